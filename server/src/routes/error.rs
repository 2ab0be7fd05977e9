//! The HTTP edge's error: every refusal is a precise status with a JSON `{error, message}` body
//! (and `field` when one input field is at fault); unexpected failures are logged once with their
//! cause chain and answered with a generic 500. The use cases' own errors are mapped here, once.

use crate::backoffice::admin::AdminError;
use crate::intake::IntakeError;
use crate::store::DbError;
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
    /// The client's fault: status, machine-readable code, human message, and the field at fault.
    Reject { status: StatusCode, code: &'static str, message: String, field: Option<&'static str> },
    /// Storage cannot write now: logged, answered 503 with `Retry-After`, nothing acknowledged.
    Unavailable(anyhow::Error),
    /// Ours: logged, never shown.
    Internal(anyhow::Error),
}

impl ApiError {
    /// A refusal with this status.
    pub fn reject(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Reject { status, code, message: message.into(), field: None }
    }
    /// 400 with a code and a message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::reject(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::reject(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::reject(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::reject(StatusCode::NOT_FOUND, code, message)
    }
    /// 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::reject(StatusCode::CONFLICT, code, message)
    }
    /// 413.
    pub fn too_large(limit: usize) -> Self {
        Self::reject(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body is larger than {limit} bytes"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(anyhow::Error::new(e))
        } else {
            Self::Internal(anyhow::Error::new(e))
        }
    }
}

impl From<crate::writer::WriteFailed> for ApiError {
    fn from(e: crate::writer::WriteFailed) -> Self {
        match e {
            crate::writer::WriteFailed::Refused => Self::Internal(anyhow::Error::new(e)),
            crate::writer::WriteFailed::Unavailable | crate::writer::WriteFailed::Stopped => Self::Unavailable(anyhow::Error::new(e)),
        }
    }
}

impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        let status = match e {
            IntakeError::IdConflict { .. } => StatusCode::CONFLICT,
            IntakeError::UnknownOrder(_) | IntakeError::UnknownPartner(_) => StatusCode::NOT_FOUND,
            IntakeError::RefundExceedsOrder(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IntakeError::Storage(db) => return db.into(),
            IntakeError::Write(w) => return w.into(),
        };
        Self::reject(status, e.code(), e.to_string())
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid { field, message } => Self::Reject {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_input",
                message: format!("{field}: {message}"),
                field: Some(field),
            },
            AdminError::Missing(what) => Self::not_found("not_found", format!("{what} does not exist")),
            AdminError::Unknown { field, what } => Self::Reject {
                status: StatusCode::NOT_FOUND,
                code: "not_found",
                message: format!("{field}: {what} does not exist"),
                field: Some(field),
            },
            AdminError::Taken { field, what } => Self::Reject {
                status: StatusCode::CONFLICT,
                code: "already_exists",
                message: format!("{field}: {what} already exists"),
                field: Some(field),
            },
            AdminError::Conflict { code, message } => Self::conflict(code, message),
            AdminError::Closed => Self::reject(StatusCode::FORBIDDEN, "applications_closed", AdminError::Closed.to_string()),
            AdminError::RateLimited => Self::reject(StatusCode::TOO_MANY_REQUESTS, "rate_limited", AdminError::RateLimited.to_string()),
            AdminError::Db(e) => e.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Reject { status, code, message, field } => {
                let body = match field {
                    Some(field) => json!({ "error": code, "message": message, "field": field }),
                    None => json!({ "error": code, "message": message }),
                };
                let mut response = (status, Json(body)).into_response();
                response.extensions_mut().insert(RejectReason(code));
                response
            }
            ApiError::Unavailable(e) => {
                tracing::error!(error = ?e, "storage unavailable; the request was not acknowledged");
                let body = json!({ "error": "storage_unavailable", "message": "the server cannot store this now; nothing was recorded, retry later" });
                let mut response = (StatusCode::SERVICE_UNAVAILABLE, [(axum::http::header::RETRY_AFTER, "5")], Json(body)).into_response();
                response.extensions_mut().insert(RejectReason("storage_unavailable"));
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
