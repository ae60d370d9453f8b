//! End to end in headless Chromium against the real binary: `firelater serve` on a fresh data
//! directory (its own private PostgreSQL, the demo tenant), then sign in as the demo admin,
//! create a user, see it listed, check the main pages with axe-core (light/dark, desktop/phone)
//! and walk fifteen pages forwards and back, sign out; then an agent works an issue from the
//! queue to resolved with its SLA panel; finally stop the server with SIGTERM (exit 0).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Without them the
//! test says so and passes, unless FIRELATER_REQUIRE_BROWSER is set, as CI does.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

mod a11y;
mod catalog;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const DEMO_PASSWORD: &str = "browser-test-Pass-42";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the child on drop so a failed assertion never leaves a server or driver running.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited before listening: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_server(data_dir: &Path, port: u16) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_firelater"))
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("FIRELATER_DATA_DIR", data_dir)
        .env("FIRELATER_ADDR", format!("127.0.0.1:{port}"))
        .env("FIRELATER_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("FIRELATER_ADMIN_PASSWORD", DEMO_PASSWORD)
        .env("FIRELATER_DEMO", "on")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start firelater serve");
    wait_for_port(port, &mut child, "firelater serve");
    Proc(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_admin_creates_a_user_and_signs_out() {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("FIRELATER_REQUIRE_BROWSER").is_none(),
            "{CHROMEDRIVER} or {CHROMIUM} missing: apt-get install chromium chromium-driver"
        );
        eprintln!("browser test skipped: install chromium and chromium-driver to run it");
        return;
    }
    let data_dir: PathBuf =
        std::env::temp_dir().join(format!("firelater-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let port = free_port();
    let mut server = start_server(&data_dir, port);

    let driver_port = free_port();
    let mut driver_child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={driver_port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    wait_for_port(driver_port, &mut driver_child, "chromedriver");
    let _driver_proc = Proc(driver_child);

    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    let profile = data_dir.join("chromium-profile");
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1280,900",
        &format!("--user-data-dir={}", profile.display()),
    ] {
        caps.add_arg(arg).unwrap();
    }
    let driver = WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps)
        .await
        .expect("webdriver session");
    let outcome = run_scenario(&driver, port).await;
    let _ = driver.quit().await;
    outcome.unwrap();

    // Graceful shutdown: SIGTERM → exit 0 (the private PostgreSQL is stopped on the way out).
    let pid = server.0.id() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = server.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "server exit status after SIGTERM: {status}"
    );
    let _ = std::fs::remove_dir_all(&data_dir);
}

async fn run_scenario(driver: &WebDriver, port: u16) -> WebDriverResult<()> {
    let base = format!("http://127.0.0.1:{port}");
    driver.goto(format!("{base}/admin/users")).await?;
    // Not signed in: the protected page sends us to the login form.
    assert!(driver.current_url().await?.path().starts_with("/login"));

    sign_in(driver, "admin@demo.firelater.test").await?;
    // Back where we wanted to go, now signed in.
    driver
        .query(By::Id("users-table"))
        .wait(Duration::from_secs(10), Duration::from_millis(100))
        .first()
        .await?;
    assert_eq!(driver.current_url().await?.path(), "/admin/users");

    driver.find(By::Id("new-user")).await?.click().await?;
    let form = driver.query(By::Id("user-form")).first().await?;
    form.find(By::Name("name"))
        .await?
        .send_keys("Bea Browser")
        .await?;
    form.find(By::Name("email"))
        .await?
        .send_keys("bea.browser@demo.firelater.test")
        .await?;
    form.find(By::Name("password"))
        .await?
        .send_keys("another long password")
        .await?;
    // The new-user form pre-ticks "agent"; add "manager".
    form.find(By::Css("input[name=roles][value=manager]"))
        .await?
        .click()
        .await?;
    form.find(By::XPath(".//button[normalize-space()='Save']"))
        .await?
        .click()
        .await?;

    let text = text_of(
        driver,
        By::Css("tr[data-user-email='bea.browser@demo.firelater.test']"),
    )
    .await?;
    assert!(text.contains("Bea Browser"), "row: {text}");
    assert!(
        text.contains("agent, manager") || text.contains("manager, agent"),
        "row: {text}"
    );

    admin_revokes_a_key_after_confirming(driver, &base).await?;
    queue_edits_wait_for_an_explicit_choice(driver, &base).await?;
    palette_assigns_an_issue(driver, &base).await?;
    let issue = first_issue_path(driver, &base).await?;
    a11y::main_pages_pass_axe(driver, &base, &issue).await?;
    a11y::fifteen_pages_and_back(driver, &base, &issue).await?;

    sign_out(driver).await?;
    assert!(driver.current_url().await?.path().starts_with("/login"));
    // Signed out for real: the users page asks for a login again.
    driver.goto(format!("{base}/admin/users")).await?;
    assert!(driver.current_url().await?.path().starts_with("/login"));
    agent_works_an_issue(driver, &base).await?;
    requester_raises_and_follows(driver, &base).await?;
    catalog::built_requested_approved_completed(driver, &base).await
}

/// The queue is for triage: `j` moves onto a row, `e` opens its edit form; moving through the
/// priority with the arrow keys saves nothing; Enter saves, the row shows the new priority and a
/// toast offers Undo, which puts the old one back.
async fn queue_edits_wait_for_an_explicit_choice(
    driver: &WebDriver,
    base: &str,
) -> WebDriverResult<()> {
    let http = reqwest::Client::new();
    let token = api_token(&http, base, "admin@demo.firelater.test").await;
    let body = serde_json::json!({"title": "Projector flickers", "priority": "high"});
    let number = raise(&http, base, &token, body).await;
    driver.goto(format!("{base}/issues")).await?;
    let row = format!("tr[data-issue='{number}']");
    wait(driver, By::Css(&row)).await?;
    driver.find(By::Css("body")).await?.send_keys("j").await?;
    let on_a_row = driver
        .execute(
            "return document.activeElement.matches('tr[data-issue] [data-row-open]')",
            vec![],
        )
        .await?;
    assert_eq!(
        on_a_row.json(),
        &serde_json::json!(true),
        "j moves onto a row"
    );
    // The new issue is the newest, so first; `e` opens its form.
    driver
        .find(By::Css(format!("{row} [data-row-open]")))
        .await?
        .send_keys("e")
        .await?;
    let priority = format!("{row} + tr[data-edit-row] select[name=priority]");
    let select = wait(driver, By::Css(&priority)).await?;
    assert!(select.is_displayed().await?, "e opened the row's edit form");
    select.send_keys(Key::Down).await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        driver.current_url().await?.path(),
        "/issues",
        "an arrow key saves nothing"
    );
    let chip = format!("{row} [data-cell=priority]");
    assert_eq!(text_of(driver, By::Css(&chip)).await?, "High");
    driver
        .find(By::Css(&priority))
        .await?
        .send_keys(Key::Enter)
        .await?;
    wait_text(driver, By::Css(&chip), "Medium").await?;
    let toast = text_of(driver, By::Css("#toasts > div")).await?;
    assert!(
        toast.contains(&format!("{number} saved: priority Medium.")),
        "{toast}"
    );
    wait(driver, By::Id("toast-undo")).await?.click().await?;
    wait_text(driver, By::Css(&chip), "High").await?;
    Ok(())
}

/// Fills the sign-in form the browser is on (the demo tenant, the run's password).
async fn sign_in(driver: &WebDriver, email: &str) -> WebDriverResult<()> {
    wait(driver, By::Name("tenant"))
        .await?
        .send_keys("demo")
        .await?;
    driver
        .find(By::Name("email"))
        .await?
        .send_keys(email)
        .await?;
    driver
        .find(By::Name("password"))
        .await?
        .send_keys(DEMO_PASSWORD)
        .await?;
    driver
        .find(By::XPath("//button[normalize-space()='Sign in']"))
        .await?
        .click()
        .await?;
    Ok(())
}

async fn sign_out(driver: &WebDriver) -> WebDriverResult<()> {
    driver
        .find(By::Css("#user-menu summary"))
        .await?
        .click()
        .await?;
    driver
        .find(By::XPath("//button[normalize-space()='Sign out']"))
        .await?
        .click()
        .await?;
    wait(driver, By::Name("password")).await?;
    Ok(())
}

/// A requester's FireLater: signed in, the home page is "My requests" with no agent or admin
/// menus; the simple raise form sends an issue that then waits on the home page; both pages
/// pass axe.
async fn requester_raises_and_follows(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    let http = reqwest::Client::new();
    let token = api_token(&http, base, "admin@demo.firelater.test").await;
    http.post(format!("{base}/v1/users"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"email": "rita.requester@demo.firelater.test", "name": "Rita Requester",
            "password": DEMO_PASSWORD, "roles": ["requester"]}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the admin adds a requester");
    sign_out(driver).await?;
    driver.goto(format!("{base}/")).await?;
    sign_in(driver, "rita.requester@demo.firelater.test").await?;
    wait(driver, By::Id("raise-issue")).await?;
    let nav = text_of(driver, By::Id("main-nav")).await?;
    assert!(nav.contains("My requests"), "{nav}");
    for menu in ["People", "System", "Integrations", "Service desk"] {
        assert!(!nav.contains(menu), "a requester has no {menu} menu: {nav}");
    }
    driver.find(By::Id("raise-issue")).await?.click().await?;
    let form = wait(driver, By::Id("issue-form")).await?;
    assert!(
        form.find_all(By::Name("priority")).await?.is_empty(),
        "the desk sets the priority"
    );
    form.find(By::Name("title"))
        .await?
        .send_keys("My monitor stays black")
        .await?;
    form.find(By::Name("description"))
        .await?
        .send_keys("Since this morning, after the update.")
        .await?;
    form.find(By::Id("create-issue")).await?.click().await?;
    wait_text(driver, By::Id("issue-title"), "My monitor stays black").await?;
    driver.goto(format!("{base}/")).await?;
    let open = text_of(driver, By::Id("my-open")).await?;
    assert!(open.contains("My monitor stays black"), "{open}");
    assert!(open.contains("Waiting for the service desk"), "{open}");
    for page in ["/", "/issues/new"] {
        let found = a11y::violations(driver, &format!("{base}{page}")).await?;
        assert!(found.is_empty(), "{page} as a requester: {found:#?}");
    }
    Ok(())
}

/// `/` opens the command palette anywhere; typing "assign ISS-n to me" offers that action
/// first, Enter runs it, and the issue page shows the new assignee. The open palette passes axe.
async fn palette_assigns_an_issue(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    let http = reqwest::Client::new();
    let token = api_token(&http, base, "admin@demo.firelater.test").await;
    let body = serde_json::json!({"title": "Badge reader at the side door"});
    let number = raise(&http, base, &token, body).await;
    driver.goto(format!("{base}/applications")).await?;
    wait(driver, By::Id("main")).await?;
    driver.find(By::Css("body")).await?.send_keys("/").await?;
    let input = wait(driver, By::Id("palette-input")).await?;
    assert!(input.is_displayed().await?, "/ opened the palette");
    // An empty box lists pages to go to.
    wait(driver, By::Css("#palette-results [role=option]")).await?;
    let found = a11y::axe_here(driver, "the open command palette").await?;
    assert!(found.is_empty(), "the palette: {found:#?}");
    input.send_keys(format!("assign {number} to me")).await?;
    let first = "#palette-results [role=option][aria-selected=true]";
    wait_text(driver, By::Css(first), &format!("Assign {number} to me")).await?;
    driver
        .find(By::Id("palette-input"))
        .await?
        .send_keys(Key::Enter)
        .await?;
    wait_text(driver, By::Id("issue-assignee"), "Ada Admin").await?;
    assert_eq!(
        text_of(driver, By::Css("#issue-title")).await?,
        "Badge reader at the side door"
    );
    Ok(())
}

/// A destructive action asks first: Cancel keeps the key, "Yes, do it" revokes it.
async fn admin_revokes_a_key_after_confirming(
    driver: &WebDriver,
    base: &str,
) -> WebDriverResult<()> {
    driver.goto(format!("{base}/api-keys")).await?;
    driver
        .find(By::Css("form[action='/api-keys'] input[name=name]"))
        .await?
        .send_keys("Browser key")
        .await?;
    driver
        .find(By::Css("input[name=scopes][value='issues:read']"))
        .await?
        .click()
        .await?;
    driver
        .find(By::XPath("//button[normalize-space()='Create key']"))
        .await?
        .click()
        .await?;
    wait(driver, By::Id("new-key")).await?;
    let row = "//tr[td[normalize-space()='Browser key']]";
    let revoke = format!("{row}//button[normalize-space()='revoke']");
    driver.find(By::XPath(&revoke)).await?.click().await?;
    let dialog = wait(driver, By::Css("#confirm-dialog[open]")).await?;
    assert!(dialog.text().await?.contains("Browser key"));
    dialog
        .find(By::XPath(".//button[normalize-space()='Cancel']"))
        .await?
        .click()
        .await?;
    assert!(driver.find(By::Css("#confirm-dialog[open]")).await.is_err());
    assert!(
        driver.find(By::XPath(&revoke)).await.is_ok(),
        "cancel keeps the key"
    );
    driver.find(By::XPath(&revoke)).await?.click().await?;
    wait(driver, By::Css("#confirm-dialog[open]")).await?;
    driver.find(By::Id("confirm-ok")).await?.click().await?;
    wait_text(driver, By::XPath(format!("{row}/td[last()]")), "revoked").await
}

/// The address of the first issue in the queue.
async fn first_issue_path(driver: &WebDriver, base: &str) -> WebDriverResult<String> {
    driver.goto(format!("{base}/issues")).await?;
    let link = wait(
        driver,
        By::Css("#issues-table tr[data-issue] a[href^='/issues/']"),
    )
    .await?;
    Ok(link.attr("href").await?.unwrap_or_default())
}

async fn wait(driver: &WebDriver, by: By) -> WebDriverResult<WebElement> {
    driver
        .query(by)
        .wait(Duration::from_secs(10), Duration::from_millis(100))
        .first()
        .await
}

/// The element's text once it shows, read again if a live refresh replaces the element while
/// we read it (the bell and lists re-fetch themselves on signals).
async fn text_of(driver: &WebDriver, by: By) -> WebDriverResult<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match wait(driver, by.clone()).await?.text().await {
            Ok(t) => return Ok(t),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits until the element's text is `want`, across the page being replaced (an element of
/// the old page goes stale while we look at it).
async fn wait_text(driver: &WebDriver, by: By, want: &str) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let seen = match driver.find(by.clone()).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if seen == want {
            return Ok(());
        }
        assert!(
            Instant::now() < deadline,
            "still '{seen}', expected '{want}'"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// While the agent looks at the queue, someone else raises an issue through the API: it shows up
/// in the open page without a reload (SSE signal, then the queue re-fetches itself).
async fn api_token(http: &reqwest::Client, base: &str, email: &str) -> String {
    let login: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&serde_json::json!({"tenant": "demo", "email": email, "password": DEMO_PASSWORD}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("signing in through the API")
        .json()
        .await
        .expect("a token");
    login["access_token"]
        .as_str()
        .expect("an access token")
        .to_string()
}

/// The manager raises an issue through the API; its number.
async fn raise(http: &reqwest::Client, base: &str, token: &str, body: serde_json::Value) -> String {
    let issue: serde_json::Value = http
        .post(format!("{base}/v1/issues"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the manager raises an issue")
        .json()
        .await
        .expect("the issue");
    issue["issue_number"]
        .as_str()
        .expect("a number")
        .to_string()
}

async fn raised_elsewhere_appears_live(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    let http = reqwest::Client::new();
    let token = api_token(&http, base, "manager@demo.firelater.test").await;
    // The page marks itself so a reload would be noticed.
    driver
        .execute("document.body.dataset.notReloaded = '1'", vec![])
        .await?;
    let raise =
        |title: &'static str| raise(&http, base, &token, serde_json::json!({ "title": title }));
    let row = |number: &str| By::Css(format!("#issues-table tr[data-issue='{number}']"));
    let first = raise("Raised elsewhere: VPN down").await;
    wait(driver, row(&first)).await?;
    assert!(
        driver
            .find(By::Css("body[data-not-reloaded='1']"))
            .await
            .is_ok(),
        "the queue page was reloaded instead of refreshed in place"
    );
    // The refresh morphs the region (idiomorph, loaded under the strict CSP).
    let morph = driver
        .execute("return typeof Idiomorph", vec![])
        .await?
        .json()
        .clone();
    assert_eq!(morph, serde_json::json!("object"));

    // With a row ticked, a refresh would lose the selection: the page offers it instead.
    driver
        .find(By::Css(format!("input[aria-label='Select {first}']")))
        .await?
        .click()
        .await?;
    let second = raise("Raised elsewhere: Wi-Fi flaky").await;
    let notice = wait(driver, By::Css("#queue-stale:not([hidden])")).await?;
    assert!(driver.find(row(&second)).await.is_err());
    notice.find(By::Tag("a")).await?.click().await?;
    wait(driver, row(&second)).await?;
    Ok(())
}

/// The agent keeps only "assigned" in the app, reads what the demo desk already told them,
/// and, still on the preferences page, sees the bell count an issue the manager assigns to
/// them (SSE signal, the bell re-fetches itself).
async fn notification_arrives_live(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base}/profile/notifications")).await?;
    wait(
        driver,
        By::Css("input[name=in_app][value='issue.assigned']"),
    )
    .await?;
    for boxed in driver.find_all(By::Css("input[name=in_app]")).await? {
        let keep = boxed.value().await?.as_deref() == Some("issue.assigned");
        if boxed.is_selected().await? != keep {
            boxed.click().await?;
        }
    }
    driver
        .find(By::Id("save-preferences"))
        .await?
        .click()
        .await?;
    wait(driver, By::Id("saved")).await?;
    driver.goto(format!("{base}/notifications")).await?;
    if let Ok(all) = driver.find(By::Id("read-all")).await {
        all.click().await?;
        wait(driver, By::Css("#notifications")).await?;
    }
    driver.goto(format!("{base}/profile/notifications")).await?;
    wait(driver, By::Id("save-preferences")).await?;
    assert!(
        driver.find(By::Id("bell-count")).await.is_err(),
        "nothing unread yet"
    );
    let http = reqwest::Client::new();
    let manager = api_token(&http, base, "manager@demo.firelater.test").await;
    let agent = api_token(&http, base, "agent@demo.firelater.test").await;
    let me: serde_json::Value = http
        .get(format!("{base}/v1/auth/me"))
        .bearer_auth(&agent)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me as JSON");
    let body = serde_json::json!({"title": "Assigned from afar", "assigned_to": me["user"]["id"]});
    raise(&http, base, &manager, body).await;
    // Raised with an assignee: "raised" and "assigned" are two events, so one or two (the bell
    // may be replaced between them).
    let unread: u32 = text_of(driver, By::Id("bell-count"))
        .await?
        .parse()
        .expect("a count");
    assert!(unread >= 1);
    Ok(())
}

/// An agent opens the queue, raises an issue, assigns it to themself, comments, resolves it,
/// and sees the SLA panel with its explanation.
async fn agent_works_an_issue(driver: &WebDriver, base: &str) -> WebDriverResult<()> {
    driver.goto(format!("{base}/issues")).await?;
    sign_in(driver, "agent@demo.firelater.test").await?;
    wait(driver, By::Id("queue-tabs")).await?;
    raised_elsewhere_appears_live(driver, base).await?;
    notification_arrives_live(driver, base).await?;
    driver.goto(format!("{base}/issues")).await?;
    driver.find(By::Id("new-issue")).await?.click().await?;
    let form = wait(driver, By::Id("issue-form")).await?;
    form.find(By::Name("title"))
        .await?
        .send_keys("Browser: label printer offline")
        .await?;
    form.find(By::XPath(
        ".//select[@name='impact']/option[normalize-space()='Significant']",
    ))
    .await?
    .click()
    .await?;
    form.find(By::XPath(
        ".//select[@name='urgency']/option[normalize-space()='High']",
    ))
    .await?
    .click()
    .await?;
    form.find(By::Id("create-issue")).await?.click().await?;

    assert!(
        text_of(driver, By::Id("sla-panel"))
            .await?
            .contains("Default issue SLA")
    );
    assert_eq!(
        driver.find(By::Id("issue-priority")).await?.text().await?,
        "High"
    );

    driver
        .find(By::XPath(
            "//form[@id='assign-form']//option[normalize-space()='Alex Agent']",
        ))
        .await?
        .click()
        .await?;
    driver.find(By::Id("assign")).await?.click().await?;
    // The old page has the same element: wait for the new page's text.
    wait_text(driver, By::Id("issue-assignee"), "Alex Agent").await?;

    driver
        .find(By::Css("#comment-form textarea[name=content]"))
        .await?
        .send_keys("Power-cycled it; watching.")
        .await?;
    driver.find(By::Id("add-comment")).await?.click().await?;
    let comments = text_of(driver, By::Css("#activity li[data-comment]")).await?;
    assert!(comments.contains("Power-cycled it"));

    driver
        .find(By::XPath(
            "//form[@id='resolve-form']//option[normalize-space()='Fixed']",
        ))
        .await?
        .click()
        .await?;
    driver
        .find(By::Css("#resolve-form textarea[name=resolution_notes]"))
        .await?
        .send_keys("Replaced the network cable")
        .await?;
    driver.find(By::Id("resolve")).await?.click().await?;
    wait(driver, By::Css("#issue-status[data-status=resolved]")).await?;
    let clock = driver
        .find(By::Css("#sla-panel [data-clock=resolution]"))
        .await?;
    assert_eq!(clock.attr("data-state").await?.as_deref(), Some("met"));
    // The explanation opens and ends with the due time.
    clock.find(By::Tag("summary")).await?.click().await?;
    let last = clock.find(By::Css("li[data-kind=due]")).await?;
    assert!(last.is_displayed().await?);
    Ok(())
}
