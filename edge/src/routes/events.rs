//! `POST /v1/events`: server-side events (orders placed or delivered, cash on
//! delivery, CRM stages, Instagram interactions, search-ad terms), behind the
//! `EVENTS_KEY` bearer key. Same batch shape, schema and validation as
//! `/v1/collect`; every kind is allowed, and each event names its person by
//! `visitor_id` or `person` (wa_id, user_id, phone, email, their hashes, or an
//! order id). Answer: `{"accepted", "rejected", "duplicates"}` as on collect.

use std::collections::BTreeMap;

use touchline_shared::sites::check_origin;
use touchline_shared::stitch::event_keys;
use touchline_shared::validate::{validate_server_batch, Rejection};
use worker::{Date, Request, Response, Result, RouteContext};

use crate::bindings;
use crate::config;
use crate::error::{respond, AppError, AppResult};
use crate::profile::AppendItem;
use crate::store::{self, Group};

/// Receives a batch of server-side events.
pub async fn post(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(post_inner(&mut req, &ctx).await)
}

async fn post_inner(req: &mut Request, ctx: &RouteContext<()>) -> AppResult {
    config::require_bearer(req, &ctx.env, bindings::EVENTS_KEY)?;
    super::check_batch_request(req)?;
    let body = req.bytes().await?;
    let received_at = Date::now().as_millis() as i64;
    let outcome = validate_server_batch(&body, received_at)?;
    let sites = config::sites(&ctx.env);
    let link_secret = config::optional_secret(&ctx.env, bindings::LINK_SECRET);
    let mut rejected = outcome.rejected;
    // Events naming the same identities go together, in batch order.
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    for s in outcome.accepted {
        let a = s.accepted;
        if let Err(reason) = check_origin(&sites, &a.event.site_id, None) {
            rejected.push(Rejection {
                index: a.index,
                reason,
            });
            continue;
        }
        let mut keys = s.keys;
        keys.extend(
            event_keys(
                &a.event,
                link_secret.as_deref().map(str::as_bytes),
                received_at,
                true,
            )
            .keys,
        );
        let name: Vec<String> = keys.iter().map(|k| k.as_key()).collect();
        let item = AppendItem {
            event_id: a.event.event_id.clone(),
            site_id: a.event.site_id.clone(),
            time: a.time,
            seq: a.event.seq,
            received_at,
            kind: a.event.data.kind().to_owned(),
            via: "events".into(),
            body: serde_json::to_string(&a.event).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let group = groups.entry(name).or_insert_with(|| Group {
            keys: Vec::new(),
            claims: Vec::new(),
            visitor_id: None,
            items: Vec::new(),
        });
        group.add_keys(keys);
        group.items.push(item);
    }
    rejected.sort_by_key(|r| r.index);
    // Groups are stored one after another: two may share an identity, and
    // linking them in sequence keeps the directory's work small.
    let (mut accepted, mut duplicates) = (0, 0);
    for g in groups.into_values() {
        let (a, d) = store::store_one(&ctx.env, &g, received_at).await?;
        accepted += a;
        duplicates += d;
    }
    super::batch_response(accepted, &rejected, duplicates)
}
