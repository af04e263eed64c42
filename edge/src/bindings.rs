//! Names of the Worker's bindings and variables: one place, as in wrangler.toml.

/// Durable Object namespace: one `Journey` per visitor.
pub const JOURNEYS: &str = "JOURNEYS";
/// D1 database: the cross-profile index used by listings and reports.
pub const DB: &str = "DB";
/// Secret: bearer key for the read API (`/v1/journeys`).
pub const API_KEY: &str = "API_KEY";
/// Variable: JSON object of sites and their allowed origins.
pub const SITES: &str = "SITES";
