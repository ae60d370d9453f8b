//! One error type, two renderers: JSON for `/v1` (`AppError` itself) and HTML for the browser
//! (`WebError`). 4xx carry field-level details; 5xx never show internals.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

tokio::task_local! {
    /// Set by the request-id middleware so error bodies can name the request.
    pub static REQUEST_ID: String;
}

pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    InvalidCredentials(String),
    #[error("you do not have permission to do this")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict {
        message: String,
        details: serde_json::Value,
    },
    #[error("{message}")]
    Validation {
        message: String,
        fields: FieldErrors,
    },
    #[error("too many attempts; try again later")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), message.into());
        AppError::Validation {
            message: "validation failed".into(),
            fields,
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        AppError::Conflict {
            message: message.into(),
            details: serde_json::Value::Null,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized | AppError::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials(_) => "invalid_credentials",
            AppError::Forbidden => "forbidden",
            AppError::NotFound => "not_found",
            AppError::Conflict { .. } => "conflict",
            AppError::Validation { .. } => "validation_failed",
            AppError::TooManyRequests { .. } => "rate_limited",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Internal(_) => "internal_error",
        }
    }

    pub fn details(&self) -> serde_json::Value {
        match self {
            AppError::Validation { fields, .. } => json!(fields),
            AppError::Conflict { details, .. } => details.clone(),
            _ => serde_json::Value::Null,
        }
    }

    /// Message safe to show: internals are logged, never rendered.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => {
                "something went wrong on our side; the request id identifies it in the logs".into()
            }
            other => other.to_string(),
        }
    }

    fn log(&self) {
        if let AppError::Internal(e) = self {
            tracing::error!(request_id = current_request_id().unwrap_or_default(), error = ?e, "internal error");
        }
    }

    fn decorate(&self, mut res: Response) -> Response {
        if let AppError::TooManyRequests { retry_after_secs } = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if matches!(self, AppError::Unauthorized) {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let body = json!({"error": {
            "code": self.code(),
            "message": self.public_message(),
            "details": self.details(),
            "request_id": current_request_id(),
        }});
        let res = (self.status(), axum::Json(body)).into_response();
        self.decorate(res)
    }
}

/// The browser renderer of `AppError`: a page, or a fragment for htmx requests.
#[derive(Debug)]
pub struct WebError(pub AppError);

impl<E: Into<AppError>> From<E> for WebError {
    fn from(e: E) -> Self {
        WebError(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let res = crate::platform::web::error_page(err.status(), err.code(), &err.public_message());
        err.decorate(res)
    }
}

/// Maps a unique violation to a 409 with a message; anything else stays an internal error.
pub fn conflict_on_unique(e: sqlx::Error, message: &str) -> AppError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => AppError::conflict(message),
        _ => e.into(),
    }
}
