//! Explicit, named limits on every input. The edge enforces them; the tracker
//! uses the same numbers so that it never builds a batch the edge would refuse.

#[allow(unused_imports)]
use crate::prelude::*;

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
/// A clock offset (`received_at - sent_at`) within this much either way is
/// taken as transit time, not a wrong clock, and is not applied, ms. Applying
/// it would add each batch's own transit time to its events, so a page view
/// sent by a slow beacon could land after the next page's view from the same
/// browser; a smaller skew than this does not change how a journey reads.
pub const CLOCK_TOLERANCE_MS: i64 = 10_000;
/// How long before sending an event may have happened (offline queue), ms.
pub const MAX_EVENT_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Largest order value accepted (in the currency's major unit).
pub const MAX_ORDER_VALUE: f64 = 1.0e10;
/// Session inactivity timeout used by the tracker, ms (30 minutes).
pub const SESSION_TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;

/// Largest WhatsApp webhook body (bytes). Meta documents payloads of up to 3 MB;
/// anything bigger is refused with 413 before its signature is even computed.
pub const MAX_WEBHOOK_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Most inbound messages read from one webhook delivery (Meta batches up to 1000
/// updates); messages past this are skipped and named in the answer.
pub const MAX_WEBHOOK_MESSAGES: usize = 1000;
/// Longest WhatsApp message id (`wamid.…`) accepted; longer ones are skipped.
pub const MAX_WAMID_LEN: usize = 256;
/// Longest WhatsApp user id: a `wa_id` (digits) or a business-scoped user id.
pub const MAX_WA_ID_LEN: usize = 64;
/// Longest message text kept on a timeline (bytes); WhatsApp allows 4096
/// characters, longer texts are cut on a char boundary, never rejected.
pub const MAX_MESSAGE_TEXT_LEN: usize = 4096;
/// Longest `hub.challenge` echoed by the verification handshake.
pub const MAX_CHALLENGE_LEN: usize = 256;
/// Longest signed chat-link token (`tl=` parameter).
pub const MAX_LINK_TOKEN_LEN: usize = 256;
/// Default lifetime of a signed chat link, ms (7 days).
pub const DEFAULT_LINK_TTL_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Longest lifetime a signed chat link may be minted with, ms (30 days).
pub const MAX_LINK_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Most identities one event or request may link at once.
pub const MAX_IDENTITIES_PER_LINK: usize = 20;
/// Most profiles one merge request may name.
pub const MAX_MERGE_IDS: usize = 10;
/// Most touchpoints one timeline page returns.
pub const MAX_TIMELINE_PAGE: usize = 1000;
/// Default size of a timeline page.
pub const DEFAULT_TIMELINE_PAGE: usize = 200;
/// How long before an order a campaign touch may earn the credit, ms (7 days,
/// the click-to-WhatsApp window Meta's partners use).
pub const ATTRIBUTION_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Largest body of the small JSON APIs (links, merges), bytes.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024;

/// Most steps in one funnel.
pub const MAX_FUNNEL_STEPS: usize = 10;
/// Longest conversion window of a funnel, ms (90 days).
pub const MAX_FUNNEL_WINDOW_MS: i64 = 90 * 24 * 60 * 60 * 1000;
/// Longest date range of a report, ms (366 days).
pub const MAX_REPORT_RANGE_MS: i64 = 366 * 24 * 60 * 60 * 1000;
/// Most weeks a cohort grid follows each cohort.
pub const MAX_COHORT_WEEKS: usize = 26;
/// Most profiles one report loads from D1; past it the answer says `truncated`.
pub const MAX_REPORT_PROFILES: usize = 5_000;
/// Most touches one report loads from D1; past it the answer says `truncated`.
pub const MAX_REPORT_TOUCHES: usize = 100_000;
/// Most spend lines in one `POST /v1/spend`.
pub const MAX_SPEND_LINES: usize = 500;
/// Largest spend amount on one line (major unit).
pub const MAX_SPEND_AMOUNT: f64 = 1.0e10;

/// Most bytes of an Instagram-scoped user id (IGSID; Meta's are ~16 digits).
pub const MAX_IGSID_LEN: usize = 64;
/// Most bytes of an Instagram message id (`mid`) kept as the idempotency key.
pub const MAX_IG_MID_LEN: usize = 512;
/// Most messaging events read from one Instagram delivery; the rest are
/// skipped with a reason.
pub const MAX_IG_MESSAGING_EVENTS: usize = 1000;
