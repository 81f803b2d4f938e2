//! axum's `Path` and `Query` extractors with JSON rejections: axum answers a path that is not
//! UTF-8 or a query that does not decode with `text/plain`; these answer `{"code","message"}`
//! (400 `INVALID_PATH`, 400 `INVALID_REQUEST`) like every other error.

use crate::error::{clip, ApiError, MESSAGE_BYTES};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Path parameters, or 400 `INVALID_PATH`.
pub struct Path<T>(pub T);

/// The query string, or 400 `INVALID_REQUEST`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(t)) => Ok(Path(t)),
            Err(e) => Err(path_error(&e)),
        }
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(t)) => Ok(Query(t)),
            Err(e) => Err(query_error(&e)),
        }
    }
}

fn path_error(e: &PathRejection) -> ApiError {
    // A route without the parameters its handler reads is the gateway's bug, not the caller's.
    if e.status().is_server_error() {
        return ApiError::from_status(e.status(), &e.body_text());
    }
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PATH", clip(&e.body_text(), MESSAGE_BYTES))
}

fn query_error(e: &QueryRejection) -> ApiError {
    ApiError::invalid(clip(&e.body_text(), MESSAGE_BYTES))
}
