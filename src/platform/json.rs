//! JSON bodies for `/v1`: malformed JSON → 400, well-formed but wrong shape → 422 naming the
//! field, never axum's plain-text rejections.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::platform::error::{AppError, FieldErrors};

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let text = e.body_text();
                let mut fields = FieldErrors::new();
                let field = text.split('`').nth(1).unwrap_or("body").to_string();
                let detail = text.rsplit(": ").next().unwrap_or(&text).to_string();
                fields.insert(field, detail.clone());
                Err(AppError::Validation {
                    message: detail,
                    fields,
                })
            }
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(AppError::BadRequest("malformed JSON body".into()))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(AppError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            )),
            Err(other) => Err(AppError::BadRequest(other.body_text())),
        }
    }
}

/// An optional body: none when the request carries no content, otherwise judged as above.
impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 2 * 1024 * 1024)
            .await
            .map_err(|_| AppError::BadRequest("the body could not be read".into()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let req = Request::from_parts(parts, axum::body::Body::from(bytes));
        <ApiJson<T> as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}
