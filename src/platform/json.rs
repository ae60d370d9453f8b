//! JSON bodies for `/v1`: malformed JSON → 400, well-formed but wrong shape → 422 naming the
//! field, never axum's plain-text rejections.

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::platform::error::{AppError, FieldErrors};

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                // `application/json` or `application/<something>+json`, any parameters.
                let essence = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence
                    .strip_prefix("application/")
                    .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
            });
        if !json {
            return Err(AppError::BadRequest(
                "expected a JSON body with Content-Type: application/json".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AppError::BadRequest(e.body_text()))?;
        parse(&bytes).map(ApiJson)
    }
}

/// Malformed JSON is a 400; JSON of the wrong shape a 422 that names the field (its path,
/// `targets[1].priority`) and says what it must be, as the rest of the API does.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let e = match serde_path_to_error::deserialize(de) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    if !e.inner().is_data() {
        return Err(AppError::BadRequest("malformed JSON body".into()));
    }
    let path = e.path().to_string();
    let (field, problem) = explain(&path, &e.inner().to_string());
    let mut fields = FieldErrors::new();
    let message = format!("{field} {problem}.");
    fields.insert(field, problem);
    Err(AppError::Validation { message, fields })
}

/// The field and what is wrong with it, worded like the API's own checks ("is required",
/// "must be a string"), from serde's message (e.g. "missing field `scopes` at line 1 column
/// 13"). `path` is where the deserializer was; "." is the body itself.
fn explain(path: &str, serde: &str) -> (String, String) {
    // serde_json appends the position; it means nothing to the client.
    let text = serde
        .rsplit_once(" at line ")
        .map_or(serde, |(t, _)| t)
        .trim();
    let quoted = |t: &str| t.split('`').nth(1).map(str::to_string);
    let within = |name: &str| match path {
        "." | "" => name.to_string(),
        p => format!("{p}.{name}"),
    };
    let at = match path {
        "." | "" => "body".to_string(),
        p => p.to_string(),
    };
    let expected = |t: &str| {
        t.split_once("expected ")
            .map(|(_, e)| e.replace('`', ""))
            .unwrap_or_default()
    };
    if let Some(rest) = text.strip_prefix("missing field ") {
        let name = quoted(rest).unwrap_or_default();
        return (within(&name), "is required".into());
    }
    if let Some(rest) = text.strip_prefix("unknown field ") {
        let name = quoted(rest).unwrap_or_default();
        let known = expected(rest);
        let problem = match known.as_str() {
            "" => "is not a field here".to_string(),
            k => format!("is not a field here (expected {k})"),
        };
        return (within(&name), problem);
    }
    if text.starts_with("unknown variant ") {
        let choices = expected(text).replace("one of ", "");
        return (at, format!("must be one of {choices}"));
    }
    if text.starts_with("invalid type: ")
        || text.starts_with("invalid value: ")
        || text.starts_with("invalid length ")
    {
        let wanted = expected(text);
        if !wanted.is_empty() {
            return (at, format!("must be {}", article(&wanted)));
        }
    }
    (at, format!("is not valid: {text}"))
}

/// serde says "expected a string", "expected u32", "expected struct Foo": keep what a client
/// can act on.
fn article(wanted: &str) -> String {
    match wanted {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number of zero or more".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "a string" | "a sequence" | "a map" => wanted
            .replace("sequence", "list")
            .replace("a map", "an object"),
        w if w.starts_with("struct ") || w.starts_with("a map") => "an object".into(),
        w if w.starts_with("UUID") || w.contains("UUID") => "an id (a UUID)".into(),
        w => w.to_string(),
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

#[cfg(test)]
mod tests {
    use super::explain;

    fn says(path: &str, serde: &str) -> (String, String) {
        explain(path, serde)
    }

    #[test]
    fn serde_messages_read_like_the_api_checks() {
        assert_eq!(
            says(".", "missing field `scopes` at line 1 column 13"),
            ("scopes".into(), "is required".into())
        );
        assert_eq!(
            says("targets[0]", "missing field `priority` at line 1 column 40"),
            ("targets[0].priority".into(), "is required".into())
        );
        assert_eq!(
            says(
                "limit",
                "invalid type: string \"x\", expected u32 at line 1 column 12"
            ),
            (
                "limit".into(),
                "must be a whole number of zero or more".into()
            )
        );
        assert_eq!(
            says(
                "title",
                "invalid type: integer `5`, expected a string at line 1 column 10"
            ),
            ("title".into(), "must be a string".into())
        );
        assert_eq!(
            says(
                "kind",
                "unknown variant `blue`, expected one of `email`, `slack` at line 1 column 9"
            ),
            ("kind".into(), "must be one of email, slack".into())
        );
        assert_eq!(
            says(
                ".",
                "unknown field `colour`, expected `name` or `email` at line 1 column 9"
            ),
            (
                "colour".into(),
                "is not a field here (expected name or email)".into()
            )
        );
        assert_eq!(
            says(
                "owner",
                "invalid length 3, expected a UUID string at line 1 column 9"
            ),
            ("owner".into(), "must be an id (a UUID)".into())
        );
    }
}
