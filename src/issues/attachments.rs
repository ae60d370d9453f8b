//! Files attached to issues: an allow-list of types (checked by extension and, for binary
//! formats, by their magic bytes — never by the client's Content-Type), a size limit, random
//! storage keys, and downloads that browsers save instead of render.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::actions::Acting;
use super::activity::touched;
use super::store;
use crate::platform::audit;
use crate::platform::error::AppError;
use crate::platform::storage::Storage;

pub const MAX_BYTES: usize = 10 * 1024 * 1024;

/// (extension, stored content type, magic prefixes the bytes must start with — empty: text).
const TYPES: &[(&str, &str, &[&[u8]])] = &[
    ("png", "image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("jpg", "image/jpeg", &[b"\xff\xd8\xff"]),
    ("jpeg", "image/jpeg", &[b"\xff\xd8\xff"]),
    ("gif", "image/gif", &[b"GIF87a", b"GIF89a"]),
    ("webp", "image/webp", &[b"RIFF"]),
    ("pdf", "application/pdf", &[b"%PDF-"]),
    ("zip", "application/zip", &[b"PK\x03\x04"]),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &[b"PK\x03\x04"],
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &[b"PK\x03\x04"],
    ),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        &[b"PK\x03\x04"],
    ),
    ("txt", "text/plain", &[]),
    ("log", "text/plain", &[]),
    ("csv", "text/csv", &[]),
    ("json", "application/json", &[]),
    ("md", "text/markdown", &[]),
    ("eml", "message/rfc822", &[]),
];

pub fn allowed_extensions() -> String {
    TYPES.iter().map(|t| t.0).collect::<Vec<_>>().join(", ")
}

/// The stored content type of an acceptable file, or a message saying why it is refused.
pub fn check(filename: &str, bytes: &[u8]) -> Result<&'static str, AppError> {
    let name = filename.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err(AppError::field(
            "file",
            "the file needs a name of 1–255 characters",
        ));
    }
    if bytes.is_empty() {
        return Err(AppError::field("file", "the file is empty"));
    }
    if bytes.len() > MAX_BYTES {
        return Err(AppError::field(
            "file",
            format!("the file is larger than {} MiB", MAX_BYTES / 1024 / 1024),
        ));
    }
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, content_type, magic)) = TYPES.iter().find(|t| t.0 == ext) else {
        return Err(AppError::field(
            "file",
            format!(
                "files of type '.{ext}' are not accepted (allowed: {})",
                allowed_extensions()
            ),
        ));
    };
    let fits = match magic.is_empty() {
        // Text formats must be text: no NUL bytes, valid UTF-8.
        true => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
        false => magic.iter().any(|m| bytes.starts_with(m)),
    };
    if !fits {
        return Err(AppError::field(
            "file",
            format!("the contents are not a .{ext} file"),
        ));
    }
    Ok(content_type)
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub issue_id: Uuid,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub uploaded_by: Option<Uuid>,
    pub uploaded_by_name: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub storage_path: String,
}

impl Attachment {
    pub fn size(&self) -> String {
        match self.size_bytes {
            b if b >= 1024 * 1024 => format!("{:.1} MiB", b as f64 / 1024.0 / 1024.0),
            b if b >= 1024 => format!("{} KiB", b / 1024),
            b => format!("{b} B"),
        }
    }
}

const SELECT: &str = "SELECT a.id, a.entity_id AS issue_id, a.filename,
        COALESCE(a.content_type, 'application/octet-stream') AS content_type,
        COALESCE(a.size_bytes, 0) AS size_bytes, a.uploaded_by, u.name AS uploaded_by_name,
        COALESCE(a.created_at, now()) AS created_at, a.storage_path
    FROM attachments a LEFT JOIN users u ON u.id = a.uploaded_by";

/// The attachments of an issue the caller can see, oldest first.
pub async fn list(a: &mut Acting<'_>, issue: Uuid) -> Result<Vec<Attachment>, AppError> {
    let issue = store::get(a.tx, &a.scope, issue).await?;
    let sql = format!(
        "{SELECT} WHERE a.entity_type = 'issue' AND a.entity_id = $1 ORDER BY a.created_at, a.id"
    );
    Ok(sqlx::query_as(&sql)
        .bind(issue.id)
        .fetch_all(&mut **a.tx)
        .await?)
}

pub async fn get(a: &mut Acting<'_>, issue: Uuid, id: Uuid) -> Result<Attachment, AppError> {
    let issue = store::get(a.tx, &a.scope, issue).await?;
    let sql = format!("{SELECT} WHERE a.entity_type = 'issue' AND a.entity_id = $1 AND a.id = $2");
    sqlx::query_as(&sql)
        .bind(issue.id)
        .bind(id)
        .fetch_optional(&mut **a.tx)
        .await?
        .ok_or(AppError::NotFound)
}

/// Anyone who can see (and so comment on) the issue may attach files to it. The file is
/// stored before the row; if the transaction then fails the file is an orphan, never a row
/// without its file.
pub async fn add(
    a: &mut Acting<'_>,
    storage: &dyn Storage,
    issue: Uuid,
    filename: &str,
    bytes: Bytes,
) -> Result<Attachment, AppError> {
    a.principal.require(crate::issues::perm::ISSUES_READ)?;
    let issue = store::get(a.tx, &a.scope, issue).await?;
    // Only the last path segment: browsers on some systems send full paths.
    let filename = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(filename)
        .trim()
        .to_string();
    let content_type = check(&filename, &bytes)?;
    let size = bytes.len() as i64;
    let key = storage.put(a.principal.slug.as_str(), bytes).await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO attachments (entity_type, entity_id, filename, content_type, size_bytes, storage_path, uploaded_by, created_at)
         VALUES ('issue', $1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(issue.id)
    .bind(&filename)
    .bind(content_type)
    .bind(size)
    .bind(&key)
    .bind(a.actor.user_id)
    .bind(a.now)
    .fetch_one(&mut **a.tx)
    .await?;
    let detail = json!({"attachment_id": id, "filename": filename, "size_bytes": size});
    audit::record(a.tx, &a.actor, "attach", "issue", issue.id, detail.clone()).await?;
    touched(a, &issue, json!({"attachment_added": detail})).await?;
    get(a, issue.id, id).await
}

/// The uploader, or an agent (`issues:update`), may remove an attachment. Returns the storage
/// key to delete once the transaction has committed.
pub async fn remove(a: &mut Acting<'_>, issue: Uuid, id: Uuid) -> Result<String, AppError> {
    let att = get(a, issue, id).await?;
    if att.uploaded_by != a.actor.user_id && !a.principal.can(crate::issues::perm::ISSUES_UPDATE) {
        return Err(AppError::Forbidden);
    }
    let issue = store::get(a.tx, &a.scope, issue).await?;
    sqlx::query("DELETE FROM attachments WHERE id = $1")
        .bind(id)
        .execute(&mut **a.tx)
        .await?;
    let detail = json!({"attachment_id": id, "filename": att.filename});
    audit::record(a.tx, &a.actor, "detach", "issue", issue.id, detail.clone()).await?;
    touched(a, &issue, json!({"attachment_removed": detail})).await?;
    Ok(att.storage_path)
}

/// The file as a download: saved, never rendered or sniffed, sandboxed if opened anyway.
pub fn download(att: &Attachment, bytes: Bytes) -> Response {
    let ascii: String = att
        .filename
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "._- ".contains(c) => c,
            _ => '_',
        })
        .collect();
    let encoded: String = att
        .filename
        .bytes()
        .map(|b| match b {
            b if b.is_ascii_alphanumeric() || b"._-".contains(&b) => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut res = Body::from(bytes).into_response();
    let h = res.headers_mut();
    let set = |v: &str| HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("attachment"));
    h.insert(header::CONTENT_DISPOSITION, set(&disposition));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&att.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}
