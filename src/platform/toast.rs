//! Toasts after a redirect: "ISS-42 saved." with an optional Undo. The message rides on a
//! short-lived cookie set by the redirect (Post/Redirect/Get keeps the address on the page, so
//! the message cannot come in the page's own response); `static/js/app.js` shows it on the next
//! page and deletes the cookie. It holds no secret — words and the form fields of an undo — and
//! the script only posts an undo to a path of this site, with the page's CSRF token.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::Serialize;

use crate::platform::web::see_other;

pub const COOKIE: &str = "fl_toast";

#[derive(Debug, Clone, Serialize)]
pub struct Toast {
    pub text: String,
    /// `error` toasts are announced assertively and stay longer.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo: Option<Undo>,
}

/// A form the toast's Undo button posts: the reverse of what was just done.
#[derive(Debug, Clone, Serialize)]
pub struct Undo {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Toast {
    pub fn success(text: impl Into<String>) -> Toast {
        Toast {
            text: text.into(),
            kind: "success",
            undo: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Toast {
        Toast {
            text: text.into(),
            kind: "error",
            undo: None,
        }
    }

    pub fn with_undo(mut self, undo: Option<Undo>) -> Toast {
        self.undo = undo;
        self
    }

    fn cookie(&self) -> Option<HeaderValue> {
        let json = serde_json::to_string(self).ok()?;
        let value: String = url::form_urlencoded::byte_serialize(json.as_bytes()).collect();
        // Browsers drop cookies past 4 KiB; a toast that long is a bug, not worth a failure.
        if value.len() > 3500 {
            return None;
        }
        HeaderValue::from_str(&format!(
            "{COOKIE}={value}; Path=/; Max-Age=30; SameSite=Strict"
        ))
        .ok()
    }
}

/// The redirect of a saved form, carrying its toast.
pub fn see_other_with(hx: bool, to: &str, toast: &Toast) -> Response {
    let mut res = see_other(hx, to);
    if let Some(c) = toast.cookie() {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_encoded_and_short_lived() {
        let t = Toast::success("ISS-1 saved; priority is High.").with_undo(Some(Undo {
            action: "/issues/x/quick".into(),
            fields: vec![("priority".into(), "low".into())],
        }));
        let c = t.cookie().expect("a short toast fits a cookie");
        let c = c.to_str().expect("the cookie is ASCII");
        assert!(
            c.starts_with("fl_toast=%7B%22text%22%3A%22ISS-1+saved%3B"),
            "{c}"
        );
        assert!(c.ends_with("; Path=/; Max-Age=30; SameSite=Strict"));
        let value = c.split(';').next().unwrap_or_default();
        assert!(!value.contains(' '));
    }

    #[test]
    fn an_oversized_toast_is_dropped_not_sent_broken() {
        assert!(Toast::error("x".repeat(5000)).cookie().is_none());
    }
}
