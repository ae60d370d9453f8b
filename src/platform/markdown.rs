//! Markdown to HTML that is safe to show: raw HTML in the source is shown as text, and links
//! and images only keep http(s), mailto and relative targets.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once(':') {
        // No scheme (relative, #anchor) — unless the "path" hides one behind a slash-free colon.
        None => true,
        Some((scheme, _))
            if scheme.contains('/') || scheme.contains('?') || scheme.contains('#') =>
        {
            true
        }
        Some((scheme, _)) => matches!(scheme, "http" | "https" | "mailto"),
    }
}

pub fn render(source: &str) -> String {
    let parser = Parser::new_ext(
        source,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_url(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(source.len() * 3 / 2);
    html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_html_does_not() {
        assert!(render("**bold**").contains("<strong>bold</strong>"));
        let evil = render("<script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!evil.contains("<script"), "{evil}");
        assert!(!evil.contains("<img"), "{evil}");
        assert!(evil.contains("&lt;script&gt;"), "{evil}");
        let link = render("[x](javascript:alert(1)) [y](https://example.com) [z](/issues)");
        assert!(!link.contains("javascript:"), "{link}");
        assert!(link.contains("href=\"https://example.com\""));
        assert!(link.contains("href=\"/issues\""));
        assert!(!render("[x](JaVaScRiPt:alert(1))").contains("alert"));
    }
}
