//! The HTTP edge's error: every refusal is a precise status with a JSON `{error, message}` body;
//! unexpected failures are logged once with their cause chain and answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The reason code of a refused request, left on the response for the metrics middleware.
#[derive(Debug, Clone, Copy)]
pub struct RejectReason(pub &'static str);

/// An error answered to a client.
#[derive(Debug)]
pub enum ApiError {
    /// The client's fault: status, machine-readable code, human message.
    Reject { status: StatusCode, code: &'static str, message: String },
    /// Ours: logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    /// 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::Reject { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }
    /// 401.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Reject { status: StatusCode::UNAUTHORIZED, code, message: message.into() }
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Reject { status: StatusCode::FORBIDDEN, code: "forbidden", message: message.into() }
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::Reject { status: StatusCode::NOT_FOUND, code, message: message.into() }
    }
    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Reject { status: StatusCode::CONFLICT, code, message: message.into() }
    }
    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::Reject {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload_too_large",
            message: format!("the body is larger than {limit} bytes"),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<crate::store::DbError> for ApiError {
    fn from(e: crate::store::DbError) -> Self {
        Self::Internal(anyhow::Error::new(e))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Reject { status, code, message } => {
                let mut response = (status, Json(json!({ "error": code, "message": message }))).into_response();
                response.extensions_mut().insert(RejectReason(code));
                response
            }
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "request failed");
                let body = json!({ "error": "internal", "message": "the server could not complete the request; it has been logged" });
                let mut response = (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response();
                response.extensions_mut().insert(RejectReason("internal"));
                response
            }
        }
    }
}
