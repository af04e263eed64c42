//! One error type for every handler, mapped to a status and a JSON body
//! `{"error": {"code": "...", "message": "..."}}`.

use serde_json::json;
use worker::Response;

/// What went wrong, as the client should hear it.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request is malformed.
    BadRequest(&'static str, String),
    /// 401: missing or wrong API key.
    Unauthorized,
    /// 401: a webhook whose signature is missing or wrong.
    BadSignature(String),
    /// 403: a refused handshake (wrong verify token).
    Forbidden(String),
    /// 404: no such route or resource.
    NotFound(String),
    /// 413: the body is over its limit.
    PayloadTooLarge(String),
    /// 415: a content type we do not read.
    UnsupportedMediaType(String),
    /// 429: over an ingest limit; retry after this many seconds.
    TooManyRequests(u32, String),
    /// 503: a required part is not configured or not built.
    Unavailable(String),
    /// 500: our fault; the message is logged.
    Internal(String),
}

impl AppError {
    fn parts(&self) -> (u16, &'static str, String) {
        match self {
            AppError::BadRequest(code, m) => (400, code, m.clone()),
            AppError::Unauthorized => (
                401,
                "unauthorized",
                "send the API key as `Authorization: Bearer <key>`".into(),
            ),
            AppError::BadSignature(m) => (401, "bad_signature", m.clone()),
            AppError::Forbidden(m) => (403, "forbidden", m.clone()),
            AppError::NotFound(m) => (404, "not_found", m.clone()),
            AppError::PayloadTooLarge(m) => (413, "payload_too_large", m.clone()),
            AppError::UnsupportedMediaType(m) => (415, "unsupported_media_type", m.clone()),
            AppError::TooManyRequests(_, m) => (429, "too_many_requests", m.clone()),
            AppError::Unavailable(m) => (503, "unavailable", m.clone()),
            AppError::Internal(m) => (500, "internal", m.clone()),
        }
    }

    /// The HTTP response for this error.
    pub fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status >= 500 {
            worker::console_error!("{code}: {message}");
        }
        let body = json!({ "error": { "code": code, "message": message } });
        let mut builder = Response::builder().with_status(status);
        if let AppError::TooManyRequests(secs, _) = &self {
            builder = builder
                .with_header("Retry-After", &secs.to_string())
                .unwrap_or_else(|_| Response::builder().with_status(status));
        }
        builder
            .from_json(&body)
            .unwrap_or_else(|_| Response::builder().with_status(status).empty())
    }
}

impl From<worker::Error> for AppError {
    fn from(e: worker::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

/// Handler result: errors become their JSON response, never a bare 500.
pub type AppResult = std::result::Result<Response, AppError>;

/// Turns an [`AppResult`] into what the router expects.
pub fn respond(r: AppResult) -> worker::Result<Response> {
    Ok(r.unwrap_or_else(AppError::into_response))
}

impl From<touchline_shared::validate::BatchError> for AppError {
    fn from(e: touchline_shared::validate::BatchError) -> Self {
        use touchline_shared::validate::BatchError;
        match e {
            BatchError::TooLarge { .. } => AppError::PayloadTooLarge(e.to_string()),
            BatchError::Malformed(m) => AppError::BadRequest("malformed_batch", m),
        }
    }
}
