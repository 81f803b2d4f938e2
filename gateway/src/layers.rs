//! The layers every request passes before its handler: the body's size and time limits, and
//! a last net that turns any error answer made without a code (axum's extractor rejections
//! are `text/plain`) into `{"code","message"}`.

use crate::error::{ApiError, RejectCode};
use crate::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// Reads the whole body within `limits.body_timeout` and `limits.max_body_bytes` before the
/// handler runs: a declared length over the limit is refused before a byte of the body is
/// read (413 `BODY_TOO_LARGE`), a body that does not arrive in time gets 408
/// `REQUEST_TIMEOUT`. Handlers then read an in-memory body.
pub async fn limit_body(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let limits = &app.cfg.limits;
    if declared_length(req.headers()).is_some_and(|n| n > limits.max_body_bytes as u64) {
        return ApiError::body_too_large(limits.max_body_bytes).into_response();
    }
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(limits.body_timeout, read_body(body, limits.max_body_bytes)).await;
    match read {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(Err(e)) => e.into_response(),
        Err(_) => ApiError::request_timeout(limits.body_timeout).into_response(),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The body's bytes, at most `max` of them (a chunked body declares no length).
async fn read_body(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut more: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the body could not be read"))?;
        total += chunk.len();
        if total > max {
            return Err(ApiError::body_too_large(max));
        }
        // Most bodies come in one chunk: keep it as it is, copy only when there are more.
        match &first {
            None => first = Some(chunk),
            Some(f) => {
                if more.is_empty() {
                    more.extend_from_slice(f);
                }
                more.extend_from_slice(&chunk);
            }
        }
    }
    Ok(if more.is_empty() { first.unwrap_or_default() } else { Bytes::from(more) })
}

/// Longest body of a codeless error answer read to become the JSON message: rejections are
/// a line of text; anything longer is cut anyway.
const REJECTION_TEXT_BYTES: usize = 4096;

/// Rewrites an error answer that carries no code (made by axum or a library, not by
/// [`ApiError`]) as `{"code","message"}` with the same status.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) || resp.extensions().get::<RejectCode>().is_some() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_BYTES).await.unwrap_or_default();
    let mut out = ApiError::from_status(status, &String::from_utf8_lossy(&text)).into_response();
    // Keep what the layer said about the connection or a retry.
    for name in [header::CONNECTION, header::RETRY_AFTER, header::ALLOW, header::UPGRADE] {
        if let Some(v) = parts.headers.get(&name) {
            out.headers_mut().insert(name, v.clone());
        }
    }
    if status == StatusCode::UPGRADE_REQUIRED && !out.headers().contains_key(header::UPGRADE) {
        out.headers_mut().insert(header::UPGRADE, header::HeaderValue::from_static("websocket"));
    }
    out
}
