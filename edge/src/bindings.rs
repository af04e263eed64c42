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
/// Secret: HMAC key of signed chat links (`?tl=`).
pub const LINK_SECRET: &str = "LINK_SECRET";
/// Variable: JSON object of sites and their allowed origins.
pub const SITES: &str = "SITES";
