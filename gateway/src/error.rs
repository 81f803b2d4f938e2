//! Every error the API answers: `{"code": "...", "message": "..."}` with a fitting status.
//! Engine rejects keep their stable codes (`croupier_domain::reject`); the gateway adds its
//! own for what never reaches the engine (bad JSON, auth, unknown routes, limits).
//!
//! A message never carries more than a short prefix of what the caller sent: [`quote`] for
//! input named in a message, and every message is cut at [`MESSAGE_BYTES`] when answered, so
//! a megabyte of input never comes back as a megabyte of error.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use croupier_domain::Reject;
use serde::Serialize;
use std::borrow::Cow;
use utoipa::{IntoResponses, ToSchema};

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code, e.g. `INSUFFICIENT_FUNDS`, `BAD_JSON`, `UNAUTHORIZED`, `BUSY`.
    pub code: String,
    /// Human-readable explanation; never a stack trace.
    pub message: String,
    /// With `BUSY`: when to try again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// The error answers every endpoint may give, documented once for the OpenAPI document.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum ErrorResponses {
    /// The body is not valid JSON or misses a field (`BAD_JSON`, `INVALID_REQUEST`).
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// Missing or invalid signature or token (`UNAUTHORIZED`, `BAD_SIGNATURE`, `TOKEN_EXPIRED`).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's player may not do this (`FORBIDDEN`).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// Unknown round, bet, packet or account.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The request conflicts with the current state (`IDEMPOTENCY_CONFLICT`, `ROUND_CLOSED`, ...).
    #[response(status = 409)]
    Conflict(ErrorBody),
    /// Well-formed but refused: amounts, limits, funds (`INVALID_AMOUNT`, `INSUFFICIENT_FUNDS`, ...).
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// The body did not arrive in time (`REQUEST_TIMEOUT`); the connection is closed.
    #[response(status = 408)]
    RequestTimeout(ErrorBody),
    /// The body is larger than the server accepts (`BODY_TOO_LARGE`).
    #[response(status = 413)]
    BodyTooLarge(ErrorBody),
    /// `BUSY`: a shard's ring is full; retry after `retry_after_ms`. `SHARD_UNAVAILABLE`;
    /// `TOO_MANY_CONNECTIONS` (the connection is closed).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// Most bytes of a caller's input quoted back in an error message.
pub const QUOTE_BYTES: usize = 64;

/// Most bytes of any error message: a backstop for messages built by libraries (serde_json
/// quotes the offending string whole).
pub const MESSAGE_BYTES: usize = 192;

/// `s` cut to at most `max` bytes on a character boundary, with `…` when it was cut.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// A caller's input for an error message: quoted and escaped like `{:?}`, at most
/// [`QUOTE_BYTES`] of it. Looks only at the prefix it keeps, however long `s` is.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(QUOTE_BYTES + 8);
    out.push('"');
    let mut escaped = s.chars().flat_map(char::escape_debug).peekable();
    while let Some(c) = escaped.next_if(|c| out.len() + c.len_utf8() <= QUOTE_BYTES + 1) {
        out.push(c);
    }
    if escaped.peek().is_some() {
        out.push('…');
    }
    out.push('"');
    out
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after_ms: None }
    }

    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_JSON", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn busy(retry_after_ms: u64) -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: "BUSY",
            message: format!("the shard is busy: retry after {retry_after_ms} ms"),
            retry_after_ms: Some(retry_after_ms),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "SHARD_UNAVAILABLE", message)
    }

    pub fn body_too_large(max: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "BODY_TOO_LARGE", format!("the body exceeds {max} bytes"))
    }

    pub fn request_timeout(after: std::time::Duration) -> Self {
        let ms = after.as_millis();
        Self::new(StatusCode::REQUEST_TIMEOUT, "REQUEST_TIMEOUT", format!("the body did not arrive within {ms} ms"))
    }

    /// An answer some layer made without a code (an extractor's rejection, a library's
    /// error): the code follows the status, the message is the layer's, cut short.
    pub fn from_status(status: StatusCode, message: &str) -> Self {
        let code = match status {
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
            StatusCode::PAYLOAD_TOO_LARGE => "BODY_TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            StatusCode::UPGRADE_REQUIRED => "UPGRADE_REQUIRED",
            StatusCode::SERVICE_UNAVAILABLE => "UNAVAILABLE",
            s if s.is_server_error() => "INTERNAL",
            _ => "INVALID_REQUEST",
        };
        let message = if message.trim().is_empty() { status.canonical_reason().unwrap_or("error") } else { message };
        Self::new(status, code, clip(message, MESSAGE_BYTES))
    }

    /// Decodes a JSON body: a syntax error is `BAD_JSON`, a missing or mistyped field
    /// `INVALID_REQUEST` (both 400).
    pub fn from_json(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Self::invalid(clip(&e.to_string(), MESSAGE_BYTES)),
            _ => Self::bad_json(clip(&e.to_string(), MESSAGE_BYTES)),
        }
    }
}

/// The status of each engine reject.
pub fn reject_status(r: &Reject) -> StatusCode {
    use Reject::*;
    match r {
        RoundNotFound | BetNotFound | PacketNotFound | AccountNotFound | UnknownGame => StatusCode::NOT_FOUND,
        IdempotencyConflict
        | CurrencyConflict
        | RoundClosed
        | InvalidRoundTransition { .. }
        | BetSettled
        | BetNotSettled
        | BetRefunded
        | PacketEmpty
        | PacketExpired
        | PacketNotExpired
        | TopologyMismatch { .. } => StatusCode::CONFLICT,
        Busy { .. } | ShardUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        // Runtime-internal commands never come from the API: reaching these is a gateway bug.
        NotRoutable | WrongShard => StatusCode::INTERNAL_SERVER_ERROR,
        // A bug in `decide`, contained: nothing changed, the shard goes on.
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
        InvalidAmount
        | UnknownCurrency
        | InvalidGame(_)
        | InvalidSettings(_)
        | InsufficientFunds { .. }
        | AccountInDebt
        | BalanceOverflow
        | SelfExcluded { .. }
        | DailyStakeLimit { .. }
        | DailyLossLimit { .. }
        | InvalidDrawResult(_)
        | UnknownSelection
        | CurrencyNotAccepted
        | StakeTooLow { .. }
        | StakeTooHigh { .. }
        | RoundStakeLimit { .. }
        | LiabilityLimit
        | PacketCount { .. }
        | PacketTooSmall => StatusCode::UNPROCESSABLE_ENTITY,
        Crash(c) => match c.kind() {
            croupier_domain::crash::reject::RejectKind::NotFound => StatusCode::NOT_FOUND,
            croupier_domain::crash::reject::RejectKind::Conflict => StatusCode::CONFLICT,
            croupier_domain::crash::reject::RejectKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        },
        // Instant games: a game already running or a tile already shown is a conflict with
        // the state; the rest is input the caller can correct.
        GameInProgress | TileRevealed | NotDue { .. } => StatusCode::CONFLICT,
        InsurancePending | InsuranceNotOffered | CannotDouble | CannotSplit | StepAhead => StatusCode::CONFLICT,
        SeedRequired | InvalidGameParams(_) | NoGemsRevealed => StatusCode::UNPROCESSABLE_ENTITY,
        PacketRecipients { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        // The packet exists and is someone else's to grab: the caller may not, whoever asks.
        NotARecipient => StatusCode::FORBIDDEN,
    }
}

impl From<Reject> for ApiError {
    fn from(r: Reject) -> Self {
        let retry_after_ms = match r {
            Reject::Busy { retry_after_ms } => Some(retry_after_ms),
            _ => None,
        };
        ApiError { status: reject_status(&r), code: r.code(), message: r.to_string(), retry_after_ms }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = clip(&self.message, MESSAGE_BYTES).into_owned();
        let body = ErrorBody { code: self.code.to_string(), message, retry_after_ms: self.retry_after_ms };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"INTERNAL\",\"message\":\"\"}".to_vec());
        let mut resp = (self.status, bytes).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if matches!(self.status, StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE) {
            // The rest of the body is unread or late: the connection cannot carry a next request.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(ms) = self.retry_after_ms {
            // Retry-After is in whole seconds; the body has the precise figure.
            if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp.extensions_mut().insert(RejectCode(self.code));
        resp
    }
}

/// The code of an error answer, for the metrics layer.
#[derive(Clone, Copy, Debug)]
pub struct RejectCode(pub &'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reject_maps_to_a_client_or_busy_status_except_internal_ones() {
        let samples = [
            Reject::InvalidAmount,
            Reject::InsufficientFunds { available: croupier_domain::Money(0) },
            Reject::RoundClosed,
            Reject::RoundNotFound,
            Reject::Busy { retry_after_ms: 3 },
        ];
        for r in samples {
            let s = reject_status(&r);
            assert!(s.is_client_error() || s == StatusCode::SERVICE_UNAVAILABLE, "{r:?} -> {s}");
        }
        let e = ApiError::from(Reject::Busy { retry_after_ms: 3 });
        assert_eq!(e.retry_after_ms, Some(3));
        assert_eq!(e.code, "BUSY");
    }

    #[test]
    fn quotes_and_messages_keep_only_a_short_prefix() {
        assert_eq!(quote("ab\"c"), "\"ab\\\"c\"");
        let long = "9".repeat(1_000_000);
        let q = quote(&long);
        assert!(q.len() <= QUOTE_BYTES + 8 && q.ends_with("…\""), "{q}");
        let cjk = "订".repeat(100);
        assert!(quote(&cjk).len() <= QUOTE_BYTES + 8);
        let c = clip(&cjk, 10);
        assert!(c.len() <= 10 && c.ends_with('…'), "{c}");
        assert_eq!(clip("short", 10), "short");
        let e = ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE, &long);
        assert_eq!((e.code, e.message.len() <= MESSAGE_BYTES), ("BODY_TOO_LARGE", true));
    }
}
