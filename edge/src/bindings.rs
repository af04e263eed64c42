//! Names of the Worker's bindings and variables: one place, as in wrangler.toml.

/// Durable Object namespace: one `Profile` per customer profile.
pub const PROFILES: &str = "PROFILES";
/// D1 database: the identity directory and the cross-profile index.
pub const DB: &str = "DB";
/// Secret: bearer key for the read and admin APIs (`/v1/journeys`, `/v1/profiles`, `/v1/links`).
pub const API_KEY: &str = "API_KEY";
/// Secret: bearer key for server-side events (`POST /v1/events`).
pub const EVENTS_KEY: &str = "EVENTS_KEY";
/// Secret: the Meta app secret that signs WhatsApp webhooks (`X-Hub-Signature-256`).
pub const WHATSAPP_APP_SECRET: &str = "WHATSAPP_APP_SECRET";
/// Secret: the verify token typed into Meta's dashboard for the GET handshake.
pub const WHATSAPP_VERIFY_TOKEN: &str = "WHATSAPP_VERIFY_TOKEN";
/// Variable: the site WhatsApp chats belong to (default: the first configured site).
pub const WHATSAPP_SITE_ID: &str = "WHATSAPP_SITE_ID";
/// Secret: the app secret that signs Instagram webhooks; `WHATSAPP_APP_SECRET`
/// when unset (one Meta app usually serves both).
pub const INSTAGRAM_APP_SECRET: &str = "INSTAGRAM_APP_SECRET";
/// Secret: the Instagram webhook's verify token; `WHATSAPP_VERIFY_TOKEN` when unset.
pub const INSTAGRAM_VERIFY_TOKEN: &str = "INSTAGRAM_VERIFY_TOKEN";
/// Variable: the site Instagram conversations belong to (default: as WhatsApp's).
pub const INSTAGRAM_SITE_ID: &str = "INSTAGRAM_SITE_ID";
/// Secret: HMAC key of signed chat links (`?tl=`).
pub const LINK_SECRET: &str = "LINK_SECRET";
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
/// Variable: `on` lets rules with a `template` send it on WhatsApp (the
/// business confirms it has the person's opt-in). Anything else: no nudges.
pub const WHATSAPP_NUDGES: &str = "WHATSAPP_NUDGES";
/// Secret: Cloud API / Graph API access token (template sends and Conversions API).
pub const WHATSAPP_TOKEN: &str = "WHATSAPP_TOKEN";
/// Variable: the business phone number id to send from when the chat did not name one.
pub const WHATSAPP_PHONE_NUMBER_ID: &str = "WHATSAPP_PHONE_NUMBER_ID";
/// Variable: template language code (default `en`).
pub const WHATSAPP_TEMPLATE_LANGUAGE: &str = "WHATSAPP_TEMPLATE_LANGUAGE";
/// Variable: the WhatsApp Business Account id (Conversions API `user_data`).
pub const WHATSAPP_BUSINESS_ACCOUNT_ID: &str = "WHATSAPP_BUSINESS_ACCOUNT_ID";
/// Variable: the Conversions API dataset id (from `/{WABA_ID}/dataset`).
pub const META_DATASET_ID: &str = "META_DATASET_ID";
/// Variable: Graph API base URL (default `https://graph.facebook.com`).
pub const META_GRAPH_URL: &str = "META_GRAPH_URL";
/// Variable: Graph API version (default `v23.0`).
pub const META_GRAPH_VERSION: &str = "META_GRAPH_VERSION";
/// Rate limiter per client address (`[[ratelimits]]`).
pub const RL_IP: &str = "RL_IP";
/// Rate limiter per site.
pub const RL_SITE: &str = "RL_SITE";
/// Variable (tests only): ms a Profile waits before its post-answer drain of
/// the visitor index and touches (default 0), so a test can kill the Worker
/// inside that window and watch the alarm deliver them after the restart.
pub const OUTBOX_DRAIN_DELAY_MS: &str = "OUTBOX_DRAIN_DELAY_MS";
