//! One way to save an HTML form. The work runs inside a savepoint of the request's transaction:
//! success commits (the handler then redirects, 303); a refusal — field errors (422), a stale
//! edit or a name already taken (409), an action not allowed on what was picked (403) — rolls
//! back to the savepoint, so nothing half-done stays
//! and the transaction still works (a unique violation would otherwise have aborted it), and
//! the handler re-renders its page with the refusal beside every value that was typed.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;

use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::tenancy;
use crate::platform::toast::{Toast, see_other_with};
use crate::platform::web::Errors;

/// Why a form was not saved.
#[derive(Debug, Default)]
pub struct Refused {
    /// Per field, as the form names them.
    pub errors: Errors,
    /// A sentence for the whole form (a conflict).
    pub notice: Option<String>,
    /// 422, 409 or 403.
    pub status: StatusCode,
}

impl Refused {
    /// A conflict shown under the input it is about (a name already taken) instead of above
    /// the form.
    pub fn notice_at(mut self, field: &str) -> Refused {
        if let Some(n) = self.notice.take() {
            self.errors.0.entry(field.to_string()).or_insert(n);
        }
        self
    }

    /// Field errors renamed to the inputs that show them (`events[2]` → `events`).
    pub fn map_fields<K: Into<String>>(mut self, rename: impl Fn(&str) -> Option<K>) -> Refused {
        let mut out = BTreeMap::new();
        for (k, v) in std::mem::take(&mut self.errors.0) {
            let key = rename(&k).map_or(k, Into::into);
            out.entry(key).or_insert(v);
        }
        self.errors = Errors(out);
        self
    }
}

impl WebCtx {
    /// Runs `work` as the form's save inside a savepoint: `Ok` — the handler commits (see
    /// `saved`) or shows what was made; `Err(Refused)` — rolled back to the savepoint, for the
    /// handler to re-render with. Errors other than a refusal are the error page.
    pub async fn save<T>(
        &mut self,
        work: impl AsyncFnOnce(&mut WebCtx) -> Result<T, AppError>,
    ) -> Result<Result<T, Refused>, WebError> {
        tenancy::savepoint(&mut self.tx).await?;
        match work(self).await {
            Ok(v) => Ok(Ok(v)),
            Err(
                e @ (AppError::Validation { .. } | AppError::Conflict { .. } | AppError::Forbidden),
            ) => {
                tenancy::rollback_to_savepoint(&mut self.tx).await?;
                Ok(Err(Refused::from(e)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Commits and sends the browser on (303; htmx follows it), with a "Saved." toast.
    pub async fn saved(self, hx: bool, to: &str) -> Result<Response, WebError> {
        self.saved_with(hx, to, &Toast::success("Saved.")).await
    }

    /// `saved`, saying what was done (and maybe offering to undo it).
    pub async fn saved_with(self, hx: bool, to: &str, toast: &Toast) -> Result<Response, WebError> {
        self.tx.commit().await?;
        Ok(see_other_with(hx, to, toast))
    }
}

impl From<AppError> for Refused {
    /// A validation error's fields, or any other error's sentence (a conflict: 409; not
    /// allowed: 403).
    fn from(e: AppError) -> Refused {
        let status = e.status();
        match e {
            AppError::Validation { fields, .. } => Refused {
                errors: Errors(fields),
                notice: None,
                status,
            },
            other => Refused {
                errors: Errors::default(),
                notice: Some(other.public_message()),
                status,
            },
        }
    }
}
