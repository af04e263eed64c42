//! The profile API, behind the bearer API key:
//! `GET /v1/profiles/{id}/timeline?limit=&after=` one page of a profile's
//! timeline (`id`: profile id, visitor id, wa_id / business-scoped user id, or
//! an identity key such as `ph:<sha256>`);
//! `DELETE /v1/profiles/{id}` erases the profile, its events and identities;
//! `POST /v1/profiles/merge` `{"ids": [..]}` merges the named profiles.

use serde::Deserialize;
use serde_json::json;
use touchline_shared::limits::{
    DEFAULT_TIMELINE_PAGE, MAX_API_BODY_BYTES, MAX_LINK_TOKEN_LEN, MAX_MERGE_IDS, MAX_TIMELINE_PAGE,
};
use worker::{Date, Env, Request, Response, Result, RouteContext};

use crate::config::require_api_key;
use crate::directory;
use crate::error::{respond, AppError, AppResult};
use crate::profile;

/// Longest id accepted in a profile path (an identity key is the longest form).
const MAX_PROFILE_REF_LEN: usize = 80;

fn id_param(ctx: &RouteContext<()>) -> std::result::Result<String, AppError> {
    let id = ctx.param("id").cloned().unwrap_or_default();
    let id = touchline_shared::attribution::percent_decode(&id);
    if id.is_empty() || id.len() > MAX_PROFILE_REF_LEN || id.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "bad_profile_id",
            format!("id must be 1 to {MAX_PROFILE_REF_LEN} characters"),
        ));
    }
    Ok(id)
}

async fn resolve_or_404(env: &Env, id: &str) -> std::result::Result<String, AppError> {
    directory::resolve(env, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no profile for `{id}`")))
}

fn query(req: &Request, name: &str) -> std::result::Result<Option<String>, AppError> {
    Ok(req
        .url()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned()))
}

/// One page of a profile's timeline.
pub async fn timeline(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(timeline_inner(&req, &ctx).await)
}

async fn timeline_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let id = id_param(ctx)?;
    let limit = match query(req, "limit")? {
        None => DEFAULT_TIMELINE_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TIMELINE_PAGE).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(
                    "bad_limit",
                    format!("limit must be 1 to {MAX_TIMELINE_PAGE}"),
                )
            })?,
    };
    let after = query(req, "after")?;
    if let Some(a) = &after {
        let ok = a.len() <= MAX_LINK_TOKEN_LEN && a.splitn(3, '.').count() == 3;
        if !ok {
            return Err(AppError::BadRequest(
                "bad_cursor",
                "after must be a next_cursor from a previous page".into(),
            ));
        }
    }
    let profile_id = resolve_or_404(&ctx.env, &id).await?;
    let identities = directory::identities(&ctx.env, &profile_id).await?;
    let page = profile::page(&ctx.env, &profile_id, limit, after.as_deref()).await?;
    Ok(Response::from_json(&json!({
        "profile_id": profile_id,
        "identities": identities,
        "touchpoints": page.touchpoints,
        "events": page.events,
        "next_cursor": page.next_cursor,
    }))?)
}

/// Erases a profile (privacy request).
pub async fn delete(req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(delete_inner(&req, &ctx).await)
}

async fn delete_inner(req: &Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let id = id_param(ctx)?;
    let profile_id = resolve_or_404(&ctx.env, &id).await?;
    let erased = directory::erase(&ctx.env, &profile_id).await?;
    Ok(Response::from_json(&json!({
        "deleted": profile_id,
        "profiles": erased.profiles,
        "identities": erased.identities,
        "events": erased.events,
    }))?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    ids: Vec<String>,
}

/// Reads a small JSON body with its limit.
pub async fn small_json<T: serde::de::DeserializeOwned>(
    req: &mut Request,
) -> std::result::Result<T, AppError> {
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|l| l.parse::<usize>().ok());
    let too_large =
        || AppError::PayloadTooLarge(format!("body is over {MAX_API_BODY_BYTES} bytes"));
    if declared.is_some_and(|l| l > MAX_API_BODY_BYTES) {
        return Err(too_large());
    }
    let body = req.bytes().await?;
    if body.len() > MAX_API_BODY_BYTES {
        return Err(too_large());
    }
    serde_json::from_slice(&body).map_err(|e| AppError::BadRequest("malformed_body", e.to_string()))
}

/// Merges the profiles named by `ids` into one (the oldest).
pub async fn merge(mut req: Request, ctx: RouteContext<()>) -> Result<Response> {
    respond(merge_inner(&mut req, &ctx).await)
}

async fn merge_inner(req: &mut Request, ctx: &RouteContext<()>) -> AppResult {
    require_api_key(req, &ctx.env)?;
    let body: MergeBody = small_json(req).await?;
    if body.ids.len() < 2 || body.ids.len() > MAX_MERGE_IDS {
        return Err(AppError::BadRequest(
            "bad_ids",
            format!("ids must name 2 to {MAX_MERGE_IDS} profiles"),
        ));
    }
    let mut keys = Vec::new();
    let mut unknown = Vec::new();
    for id in &body.ids {
        let key = match directory::resolve(&ctx.env, id).await? {
            Some(p) => directory::any_key(&ctx.env, &p).await?,
            None => None,
        };
        match key {
            Some(k) => keys.push(k),
            None => unknown.push(id.clone()),
        }
    }
    if !unknown.is_empty() {
        return Err(AppError::NotFound(format!(
            "no profile for {}; nothing was merged",
            unknown
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let now = Date::now().as_millis() as i64;
    let profile_id = directory::link(&ctx.env, &keys, &[], now).await?;
    let identities = directory::identities(&ctx.env, &profile_id).await?;
    Ok(Response::from_json(
        &json!({ "profile_id": profile_id, "identities": identities }),
    )?)
}
