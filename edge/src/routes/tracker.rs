//! `GET /t.js` and `GET /t.wasm`: the tracker, embedded at build time and
//! served precompressed (brotli, else gzip, else raw) with validators.

use worker::{EncodeBody, Request, Response, ResponseBuilder, Result, RouteContext};

use crate::error::{respond, AppError, AppResult};

macro_rules! asset {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name))
    };
}

struct Asset {
    raw: &'static [u8],
    gzip: &'static [u8],
    brotli: &'static [u8],
    etag: &'static [u8],
    content_type: &'static str,
}

const SCRIPT: Asset = Asset {
    raw: asset!("t.js"),
    gzip: asset!("t.js.gz"),
    brotli: asset!("t.js.br"),
    etag: asset!("t.js.etag"),
    content_type: "text/javascript; charset=utf-8",
};

const WASM: Asset = Asset {
    raw: asset!("t.wasm"),
    gzip: asset!("t.wasm.gz"),
    brotli: asset!("t.wasm.br"),
    etag: asset!("t.wasm.etag"),
    content_type: "application/wasm",
};

/// The loader may change at any time (pages embed its URL), so it is cached briefly.
const SHORT_CACHE: &str = "public, max-age=300, stale-while-revalidate=86400";
/// The loader asks for `t.wasm?v=<etag>`: that exact version never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Serves the loader script.
pub fn script(req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    respond(serve(&req, &SCRIPT, SHORT_CACHE))
}

/// Serves the wasm module; immutable when asked for by its current version.
pub fn wasm(req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    let versioned = req
        .url()
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "v")
                .map(|(_, v)| v.into_owned())
        })
        .is_some_and(|v| v.as_bytes() == WASM.etag);
    respond(serve(
        &req,
        &WASM,
        if versioned { IMMUTABLE } else { SHORT_CACHE },
    ))
}

fn serve(req: &Request, asset: &Asset, cache: &str) -> AppResult {
    if asset.raw.is_empty() {
        return Err(AppError::Unavailable(
            "the tracker is not built: run `npm run build`".into(),
        ));
    }
    let etag = format!("\"{}\"", String::from_utf8_lossy(asset.etag));
    let header = |name: &str| req.headers().get(name).ok().flatten().unwrap_or_default();
    let builder = ResponseBuilder::new()
        .with_header("Content-Type", asset.content_type)?
        .with_header("Cache-Control", cache)?
        .with_header("ETag", &etag)?
        .with_header("Vary", "Accept-Encoding")?
        .with_header("Access-Control-Allow-Origin", "*")?
        .with_header("X-Content-Type-Options", "nosniff")?;
    if header("If-None-Match").split(',').any(|t| t.trim() == etag) {
        return Ok(builder.with_status(304).empty());
    }
    let accept = header("Accept-Encoding").to_ascii_lowercase();
    let accepts = |enc: &str| {
        accept
            .split(',')
            .any(|e| e.split(';').next().map(str::trim) == Some(enc))
    };
    let (body, encoding) = if accepts("br") {
        (asset.brotli, Some("br"))
    } else if accepts("gzip") {
        (asset.gzip, Some("gzip"))
    } else {
        (asset.raw, None)
    };
    let builder = match encoding {
        // Manual: the bytes are already compressed; do not compress again.
        Some(enc) => builder
            .with_header("Content-Encoding", enc)?
            .with_encode_body(EncodeBody::Manual),
        None => builder,
    };
    Ok(builder.fixed(body.to_vec()))
}
