//! Every error the API answers: `{"code": "...", "message": "..."}` with a fitting status.
//! Engine rejects keep their stable codes (`croupier_engine::reject`); the gateway adds its
//! own for what never reaches the engine (bad JSON, auth, unknown routes).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use croupier_engine::Reject;
use serde::Serialize;
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
    /// `BUSY`: a shard's ring is full; retry after `retry_after_ms`. `SHARD_UNAVAILABLE`.
    #[response(status = 503)]
    Unavailable(ErrorBody),
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

    /// Decodes a JSON body: a syntax error is `BAD_JSON`, a missing or mistyped field
    /// `INVALID_REQUEST` (both 400).
    pub fn from_json(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => Self::invalid(e.to_string()),
            _ => Self::bad_json(e.to_string()),
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
        let body =
            ErrorBody { code: self.code.to_string(), message: self.message, retry_after_ms: self.retry_after_ms };
        let bytes = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"code\":\"INTERNAL\",\"message\":\"\"}".to_vec());
        let mut resp = (self.status, bytes).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
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
            Reject::InsufficientFunds { available: croupier_engine::Money(0) },
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
}
