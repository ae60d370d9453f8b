//! Issue attachments: type and size checks, safe download headers, visibility, removal rights,
//! and the upload form on the issue page.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::issues::Desk;
use crate::support::id_of;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

fn multipart(filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----attach-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(
    d: &Desk,
    token: &str,
    issue: &str,
    name: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let (ctype, body) = multipart(name, bytes);
    let req = Request::builder()
        .method("POST")
        .uri(format!("/v1/issues/{issue}/attachments"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", ctype)
        .body(Body::from(body))
        .unwrap();
    d.app.call(req).await
}

#[tokio::test]
async fn files_are_checked_stored_downloaded_safely_and_kept_private() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.requester,
            json!({"title": "Login page broken"}),
        )
        .await;
    let id = id_of(&issue);
    // In the desk's group, so an agent outside it cannot see the issue.
    let (s, _) = d
        .call(
            "POST",
            &format!("/v1/issues/{id}/assign"),
            &d.admin,
            json!({"assigned_group": d.group}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let refused = [
        ("virus.exe", b"MZ\x90\0".to_vec(), "not accepted"),
        ("fake.png", b"GIF89a....".to_vec(), "not a .png"),
        ("empty.txt", Vec::new(), "empty"),
        ("binary.txt", b"abc\0def".to_vec(), "not a .txt"),
        (
            "huge.log",
            vec![b'a'; 10 * 1024 * 1024 + 1],
            "larger than 10 MiB",
        ),
        (
            "enormous.log",
            vec![b'a'; 12 * 1024 * 1024],
            "could not be read",
        ),
    ];
    for (name, bytes, why) in refused {
        let (s, e) = upload(&d, &d.requester, &id, name, &bytes).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {e}");
        let msg = e["error"]["details"]["file"].as_str().unwrap_or_default();
        assert!(msg.contains(why), "{name}: {msg}");
    }

    let (s, att) = upload(&d, &d.requester, &id, "pics/screen shot é.png", PNG).await;
    assert_eq!(s, StatusCode::CREATED, "{att}");
    assert_eq!(
        att["filename"], "screen shot é.png",
        "only the last path segment"
    );
    assert_eq!(att["content_type"], "image/png");
    assert_eq!(att["size_bytes"], PNG.len());
    let att_id = id_of(&att);
    let key: String = sqlx::query_scalar(&format!(
        "SELECT storage_path FROM tenant_{}.attachments WHERE id = $1",
        d.app.slug
    ))
    .bind(uuid::Uuid::parse_str(&att_id).expect("a uuid"))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert!(key.starts_with(&format!("{}/", d.app.slug.as_str())));
    assert!(
        !key.contains("screen"),
        "random keys, not the client's name"
    );

    let app = &d.app;
    let get = |token: String, uri: String| async move {
        let req = Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("a well-formed request");
        let (_, headers, bytes) = app.respond(req).await;
        (headers, bytes)
    };
    let uri = format!("/v1/issues/{id}/attachments/{att_id}");
    let (h, bytes) = get(d.requester.clone(), uri.clone()).await;
    assert_eq!(&bytes[..], PNG);
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "default-src 'none'; sandbox");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"screen shot _.png\"; filename*=UTF-8''screen%20shot%20%C3%A9.png"
    );

    // Someone who cannot see the issue cannot see its files either.
    let (s, _) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}/attachments"),
            &d.outsider,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = upload(&d, &d.outsider, &id, "x.txt", b"hi").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (h, _) = get(d.outsider.clone(), uri.clone()).await;
    assert!(h.get("content-disposition").is_none());

    // The requester may remove their own file but not an agent's.
    let (_, admin_file) = upload(&d, &d.admin, &id, "notes.txt", b"checked the logs").await;
    let admin_file = id_of(&admin_file);
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/v1/issues/{id}/attachments/{admin_file}"),
            &d.requester,
            Value::Null,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = d.call("DELETE", &uri, &d.requester, Value::Null).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(
        d.app.state.storage.get(&key).await.is_err(),
        "the file is gone too"
    );
    let (_, list) = d
        .call(
            "GET",
            &format!("/v1/issues/{id}/attachments"),
            &d.admin,
            Value::Null,
        )
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let audit: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM tenant_{}.audit_logs WHERE action IN ('attach', 'detach')",
        d.app.slug
    ))
    .fetch_one(&d.app.state.pool)
    .await
    .unwrap();
    assert_eq!(audit, 3);
}

#[tokio::test]
async fn the_issue_page_uploads_lists_and_refuses_with_a_reason() {
    let d = Desk::new().await;
    let (_, issue) = d
        .call(
            "POST",
            "/v1/issues",
            &d.admin,
            json!({"title": "VPN drops"}),
        )
        .await;
    let id = id_of(&issue);
    let b = d.app.browser_login("admin@example.com").await;
    let uri = format!("/issues/{id}/attachments");
    let bad = d
        .app
        .upload(
            &uri,
            &b.cookie,
            &[("_csrf", &b.csrf)],
            ("file", "run.sh", "text/x-sh", b"rm -rf /"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body
            .contains("files of type &#39;.sh&#39; are not accepted")
            || bad.body.contains("files of type '.sh' are not accepted"),
        "{}",
        bad.body
    );
    let ok = d
        .app
        .upload(
            &uri,
            &b.cookie,
            &[("_csrf", &b.csrf)],
            ("file", "vpn.log", "text/plain", b"timeout at 10:02"),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let page = d
        .app
        .page("GET", &format!("/issues/{id}"), Some(&b.cookie), None)
        .await;
    assert!(page.body.contains(">vpn.log</a>"), "{}", page.body);
    let doc = scraper::Html::parse_document(&page.body);
    let sel = scraper::Selector::parse("#attachments a").unwrap();
    let href = doc
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_string();
    let file = d.app.page("GET", &href, Some(&b.cookie), None).await;
    assert_eq!(file.body, "timeout at 10:02");
    assert!(
        file.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
}
