//! The API's errors: a status and a JSON body that says what went wrong and what to fix,
//! `{"error": "<label>", "detail": "<sentence>"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The error body, as the OpenAPI document describes it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ProblemDoc {
    /// `unauthorized`, `not_found`, `too_large`, `bad_request`, `unprocessable`, `busy`, …
    error: String,
    /// What went wrong and what to fix.
    detail: String,
}

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    /// Stable label: `unauthorized`, `not_found`, `too_large`, `bad_request`, …
    pub error: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            error,
            detail: detail.into(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// Well-formed, but it cannot be investigated (too few points, a bad cell…).
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// The bot's own failure (the store is unreachable…): logged, and said plainly.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the request could not be completed: {error}"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "detail": self.detail});
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::store::StoreError> for Problem {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::UnknownInvestigation(_) | StoreError::UnknownMetric(_) => {
                Self::not_found(e.to_string())
            }
            StoreError::NotAnAlert(_)
            | StoreError::Unusable { .. }
            | StoreError::NotFinite { .. } => Self::unprocessable(e.to_string()),
            other => Self::internal(other),
        }
    }
}
