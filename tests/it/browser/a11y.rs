//! Classes of defect a person notices in a real browser, checked on the main pages:
//! accessibility and contrast (axe-core, light and dark, desktop and phone) and a long run of
//! navigation forwards and back (the back/forward cache must not hold connections open).

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use super::wait;

/// axe-core, vendored by `.ci/assets` for tests only (it is never served to users).
const AXE: &str = include_str!("../../vendor/axe-core-4.14.1.min.js");

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// The pages people spend their time on, as the signed-in admin sees them.
fn main_pages(issue: &str) -> Vec<String> {
    [
        "/",
        "/issues",
        "/issues/new",
        issue,
        "/applications",
        "/search?q=printer",
        "/notifications",
        "/profile",
        "/profile/notifications",
        "/admin/users",
        "/admin/roles",
        "/admin/groups",
        "/admin/webhooks",
        "/admin/integrations",
        "/sla",
        "/admin/audit",
        "/admin/jobs",
        "/catalog",
        "/catalog/manage",
        "/requests",
        "/approvals",
        "/approvals/delegations",
        "/sla/policies/new?for=request",
    ]
    .iter()
    .map(|p| p.to_string())
    .collect()
}

/// Serious and critical axe violations (WCAG 2 A/AA, contrast included) on one page, as lines
/// naming the rule and the elements.
pub async fn violations(driver: &WebDriver, url: &str) -> WebDriverResult<Vec<String>> {
    driver.goto(url).await?;
    wait(driver, By::Id("main")).await?;
    axe_here(driver, url).await
}

/// The same check on the page as it is now (a dialog open, say); `what` names it in failures.
pub async fn axe_here(driver: &WebDriver, what: &str) -> WebDriverResult<Vec<String>> {
    let url = what;
    let loaded = driver
        .execute("return typeof window.axe", vec![])
        .await?
        .json()
        .clone();
    if loaded != serde_json::json!("object") {
        driver.execute(AXE, vec![]).await?;
    }
    let found = driver
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"], resultTypes: ["violations"] })
              .then(r => done({
                rules: r.passes.length + r.violations.length + r.incomplete.length,
                found: r.violations
                  .filter(v => v.impact === "serious" || v.impact === "critical")
                  .map(v => v.id + ": " + v.help + " — " + v.nodes.slice(0, 4).map(n => n.target.join(" ") + (n.any[0] ? " (" + n.any[0].message + ")" : "")).join("; "))
              }))
              .catch(e => done({ rules: 0, found: ["axe failed: " + e] }));"#,
            vec![],
        )
        .await?;
    let report = found.json();
    // axe really looked: a page where no rule applied means the check did not run.
    assert!(
        report["rules"].as_u64().unwrap_or(0) > 10,
        "axe did not run on {url}: {report}"
    );
    let lines: Vec<String> =
        serde_json::from_value(report["found"].clone()).expect("axe's findings as a list");
    Ok(lines)
}

async fn set_theme(driver: &WebDriver, theme: &str) -> WebDriverResult<()> {
    driver
        .execute(
            "localStorage.setItem('theme', arguments[0])",
            vec![serde_json::json!(theme)],
        )
        .await?;
    Ok(())
}

/// No serious or critical violation on any main page, in light and dark mode, on a desktop
/// window and (for the pages a phone user opens) a phone-sized one.
/// The path of the first link matching `css` on `page`.
async fn first_href(
    driver: &WebDriver,
    base: &str,
    page: &str,
    css: &str,
) -> WebDriverResult<String> {
    driver.goto(format!("{base}{page}")).await?;
    let href = driver.find(By::Css(css)).await?.attr("href").await?;
    Ok(href.unwrap_or_default())
}

pub async fn main_pages_pass_axe(
    driver: &WebDriver,
    base: &str,
    issue: &str,
) -> WebDriverResult<()> {
    let mut pages = main_pages(issue);
    // A request and an item's approval chain, as the demo has them.
    let request = first_href(
        driver,
        base,
        "/requests",
        "#requests-table a[data-row-open]",
    )
    .await?;
    let item = first_href(driver, base, "/catalog/manage", "#catalog-admin-items a").await?;
    pages.extend([request, format!("{item}/approvals"), item]);
    let phone_pages = ["/", "/issues", issue, "/issues/new", "/notifications"];
    let mut problems = Vec::new();
    for theme in ["light", "dark"] {
        set_theme(driver, theme).await?;
        for ((w, h), list) in [
            (DESKTOP, pages.clone()),
            (PHONE, phone_pages.iter().map(|p| p.to_string()).collect()),
        ] {
            driver.set_window_rect(0, 0, w, h).await?;
            for page in &list {
                for v in violations(driver, &format!("{base}{page}")).await? {
                    problems.push(format!("{page} ({theme}, {w}px): {v}"));
                }
            }
        }
    }
    driver.set_window_rect(0, 0, DESKTOP.0, DESKTOP.1).await?;
    set_theme(driver, "light").await?;
    assert!(
        problems.is_empty(),
        "axe found {} serious/critical violations:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

/// Fifteen pages forwards by their links, then all the way back: every step lands promptly.
/// (A page kept in the back/forward cache with its live stream open used to take one of the
/// browser's six connections per host; the seventh page froze for about a minute.)
pub async fn fifteen_pages_and_back(
    driver: &WebDriver,
    base: &str,
    issue: &str,
) -> WebDriverResult<()> {
    let mut pages = main_pages(issue);
    pages.truncate(15);
    let step = Duration::from_secs(10);
    for page in &pages {
        let started = Instant::now();
        driver.goto(format!("{base}{page}")).await?;
        wait(driver, By::Id("main")).await?;
        assert!(started.elapsed() < step, "opening {page} stalled");
    }
    for page in pages.iter().rev().skip(1) {
        let started = Instant::now();
        driver.back().await?;
        let here = driver.current_url().await?;
        let want = page.split('?').next().unwrap_or(page);
        assert_eq!(here.path(), want, "back leads to the previous page");
        wait(driver, By::Id("main")).await?;
        assert!(started.elapsed() < step, "going back to {page} stalled");
    }
    // The last page restored from the cache still works: its live stream reconnected.
    let started = Instant::now();
    driver.goto(format!("{base}/issues")).await?;
    wait(driver, By::Id("queue-tabs")).await?;
    assert!(started.elapsed() < step, "the queue stalled after the walk");
    Ok(())
}
