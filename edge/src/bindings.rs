//! Names of the Worker's bindings and variables: one place, as in wrangler.toml.

/// Durable Object namespace: one `Journey` per visitor.
pub const JOURNEYS: &str = "JOURNEYS";
/// D1 database: the cross-profile index used by listings and reports.
pub const DB: &str = "DB";
/// Secret: bearer key for the read API (`/v1/journeys`).
pub const API_KEY: &str = "API_KEY";
/// Variable: JSON object of sites and their allowed origins.
pub const SITES: &str = "SITES";
/// Queue producer for intent signals (consumed by this Worker).
pub const SIGNALS: &str = "SIGNALS";
/// Name of its dead-letter queue.
pub const SIGNALS_DLQ: &str = "touchline-signals-dlq";
/// Variable: JSON array of webhook URLs that receive every signal.
pub const WEBHOOK_URLS: &str = "WEBHOOK_URLS";
/// Secret: HMAC key for `X-Touchline-Signature`.
pub const WEBHOOK_SECRET: &str = "WEBHOOK_SECRET";
/// Variable: JSON array of intent rules (defaults of PRODUCT.md when absent).
pub const RULES: &str = "RULES";
/// Variable: comma-separated brand words for the discount-search rule.
pub const BRAND_TERMS: &str = "BRAND_TERMS";
/// Variable: first retry delay in seconds (doubles each attempt; default 30).
pub const RETRY_BASE_SECONDS: &str = "RETRY_BASE_SECONDS";
/// Variable: seconds after which a pending delivery is re-queued by the cron (default 900).
pub const REDRIVE_AFTER_SECONDS: &str = "REDRIVE_AFTER_SECONDS";
