//! Storing validated events: each group names its person by identity keys; the
//! directory links those keys into one profile, and the events are appended to
//! that profile's timeline. Used by `/v1/collect`, `/v1/events` and the webhook.

use futures_util::future::join_all;
use touchline_shared::identity::IdentityKey;
use touchline_shared::limits::MAX_IDENTITIES_PER_LINK;
use worker::Env;

use crate::directory;
use crate::error::AppError;
use crate::profile::{self, AppendItem};

/// Events of one person.
#[derive(Default)]
pub struct Group {
    /// The identities that name the person (the first one is the main one).
    pub keys: Vec<IdentityKey>,
    /// Identities recorded only if still free (order ids reported by a page).
    pub claims: Vec<IdentityKey>,
    /// The visitor, for the visitor index (web events only).
    pub visitor_id: Option<String>,
    /// The events.
    pub items: Vec<AppendItem>,
}

impl Group {
    /// Adds identities, once each, up to the named limit.
    pub fn add_keys(&mut self, keys: impl IntoIterator<Item = IdentityKey>) {
        for k in keys {
            if self.keys.len() >= MAX_IDENTITIES_PER_LINK {
                worker::console_warn!("more than {MAX_IDENTITIES_PER_LINK} identities in one group; the rest wait for a later event");
                return;
            }
            if !self.keys.contains(&k) {
                self.keys.push(k);
            }
        }
    }
}

/// Newly stored and duplicate counts.
#[derive(Default)]
pub struct Stored {
    /// Events stored for the first time.
    pub accepted: usize,
    /// Events whose id was already stored.
    pub duplicates: usize,
}

/// Links and appends every group (groups run concurrently).
pub async fn store(env: &Env, groups: Vec<Group>, now_ms: i64) -> Result<Stored, AppError> {
    let runs = groups.iter().map(|g| store_one(env, g, now_ms));
    let mut out = Stored::default();
    for r in join_all(runs).await {
        let (a, d) = r?;
        out.accepted += a;
        out.duplicates += d;
    }
    Ok(out)
}

/// Links and appends one group; returns (accepted, duplicates).
pub async fn store_one(env: &Env, g: &Group, now_ms: i64) -> Result<(usize, usize), AppError> {
    let profile_id = directory::link(env, &g.keys, &g.claims, now_ms).await?;
    let r = profile::append(env, &profile_id, g.visitor_id.as_deref(), &g.items).await?;
    Ok((r.inserted, r.duplicates))
}

/// An event as a timeline append, at `time` (collector clock), received at
/// `received_at`, arrived `via` (`collect`, `events`, `webhook`).
pub fn item(
    event: &touchline_shared::Event,
    time: i64,
    received_at: i64,
    via: &str,
) -> Result<AppendItem, AppError> {
    Ok(AppendItem {
        event_id: event.event_id.clone(),
        site_id: event.site_id.clone(),
        time,
        seq: event.seq,
        received_at,
        kind: event.data.kind().to_owned(),
        via: via.to_owned(),
        body: serde_json::to_string(event).map_err(|e| AppError::Internal(e.to_string()))?,
    })
}
