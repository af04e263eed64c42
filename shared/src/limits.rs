//! Explicit, named limits on every input. The edge enforces them; the tracker
//! uses the same numbers so that it never builds a batch the edge would refuse.

/// Largest request body accepted by `POST /v1/collect` (bytes). Bigger: 413.
/// The tracker splits batches to stay under it (sendBeacon's quota is 64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most events in one batch; events past this index are rejected one by one.
pub const MAX_EVENTS_PER_BATCH: usize = 100;
/// Longest id (site, visitor, session, event, order): ASCII `[A-Za-z0-9_.-]`.
pub const MAX_ID_LEN: usize = 64;
/// Longest URL (page, referrer, link target).
pub const MAX_URL_LEN: usize = 2048;
/// Longest free text (titles, names, search queries, attribution values).
pub const MAX_TEXT_LEN: usize = 256;
/// Longest slug (checkout step, payment method, custom event name).
pub const MAX_SLUG_LEN: usize = 32;
/// Most properties on a custom event.
pub const MAX_CUSTOM_PROPS: usize = 20;
/// How far an event's time may lie after the batch was sent (clock jitter), ms.
pub const MAX_FUTURE_SKEW_MS: i64 = 60_000;
/// How long before sending an event may have happened (offline queue), ms.
pub const MAX_EVENT_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Largest order value accepted (in the currency's major unit).
pub const MAX_ORDER_VALUE: f64 = 1.0e10;
/// Session inactivity timeout used by the tracker, ms (30 minutes).
pub const SESSION_TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;
