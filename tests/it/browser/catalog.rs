//! The catalog end to end: an admin drags three field types into the builder, sets a
//! condition and sees the preview react, publishes; a requester submits with an error, fixes
//! it and submits; the approver approves from the inbox; an agent completes the request's
//! fulfilment task, which completes the request.

use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

use super::{api_token, sign_in, sign_out, text_of, wait};

/// The canvas's field count once it reaches `n` (each drop re-renders the builder).
async fn fields_on_canvas(driver: &WebDriver, n: usize) -> WebDriverResult<Vec<WebElement>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = driver
            .find_all(By::Css(
                "#builder [data-canvas][data-section=''] li[data-field]",
            ))
            .await?;
        if found.len() == n {
            return Ok(found);
        }
        assert!(
            Instant::now() < deadline,
            "the canvas has {} fields, expected {n}",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drags a palette entry onto the canvas with real pointer moves (SortableJS in fallback mode
/// follows mouse events, as it does for a person).
async fn drag_type(driver: &WebDriver, kind: &str) -> WebDriverResult<()> {
    let source = wait(
        driver,
        By::Css(format!("[data-palette-list] li[data-type='{kind}'] span")),
    )
    .await?;
    let target = driver
        .find(By::Css("#builder [data-canvas][data-section='']"))
        .await?;
    driver
        .action_chain()
        .move_to_element_center(&source)
        .click_and_hold()
        .move_by_offset(10, 5)
        .move_by_offset(30, 5)
        .move_to_element_center(&target)
        .move_by_offset(0, 8)
        .move_by_offset(0, 4)
        .release()
        .perform()
        .await
}

/// Waits until no htmx request is in flight.
async fn settle(driver: &WebDriver) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let busy = driver
            .execute(
                "return document.querySelectorAll('.htmx-request').length;",
                vec![],
            )
            .await?;
        if busy.json().as_u64() == Some(0) {
            return Ok(());
        }
        assert!(Instant::now() < deadline, "htmx is still busy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks a field on the canvas and waits for its side panel.
async fn open_panel(driver: &WebDriver, field: &str) -> WebDriverResult<()> {
    settle(driver).await?;
    wait(driver, By::Css(format!("li[data-field='{field}'] a")))
        .await?
        .click()
        .await?;
    wait(
        driver,
        By::Css(format!("#field-panel input[name=field][value='{field}']")),
    )
    .await?;
    settle(driver).await
}

async fn panel_input(driver: &WebDriver, name: &str) -> WebDriverResult<WebElement> {
    wait(driver, By::Css(format!("#field-panel [name='{name}']"))).await
}

/// Waits until a canvas card mentions `word` (the builder re-rendered from the saved draft).
async fn card_says(driver: &WebDriver, field: &str, word: &str) -> WebDriverResult<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text_of(driver, By::Css(format!("li[data-field='{field}']")))
        .await?
        .contains(word)
    {
        assert!(Instant::now() < deadline, "{field} never says {word}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    settle(driver).await
}

async fn post_json(
    http: &reqwest::Client,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    http.post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the API call succeeds")
        .json()
        .await
        .expect("a JSON answer")
}

pub async fn built_requested_approved_completed(
    driver: &WebDriver,
    base: &str,
) -> WebDriverResult<()> {
    let http = reqwest::Client::new();
    let token = api_token(&http, base, "admin@demo.firelater.test").await;
    let me: serde_json::Value = http
        .get(format!("{base}/v1/auth/me"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("me as JSON");
    let item = post_json(
        &http,
        format!("{base}/v1/catalog/items"),
        &token,
        serde_json::json!({"name": "Conference headset", "short_desc": "A headset for calls",
            "approval_chain": {"stages": [{"approvers": [{"type": "user", "id": me["user"]["id"]}]}]},
            "task_templates": [{"key": "hand", "title": "Hand the headset over"}]}),
    )
    .await;
    let id = item["id"].as_str().unwrap_or_default().to_string();

    // The admin builds the form by dragging.
    sign_out(driver).await?;
    sign_in(driver, "admin@demo.firelater.test").await?;
    wait(driver, By::Id("main-nav")).await?;
    driver
        .goto(format!("{base}/catalog/items/{id}/builder"))
        .await?;
    for (n, kind) in ["select", "text", "checkbox"].into_iter().enumerate() {
        settle(driver).await?;
        drag_type(driver, kind).await?;
        fields_on_canvas(driver, n + 1).await?;
    }
    // The short text shows only when the dropdown is "Option 1".
    fields_on_canvas(driver, 3).await?;
    settle(driver).await?;
    let id_of = |label: &'static str| async move {
        let found = driver
            .execute(
                "var want = arguments[0]; \
                 var li = Array.from(document.querySelectorAll('#builder li[data-field]')) \
                   .find(function (l) { return l.textContent.indexOf(want) >= 0; }); \
                 return li ? li.getAttribute('data-field') : '';",
                vec![serde_json::json!(label)],
            )
            .await?;
        Ok::<String, WebDriverError>(found.json().as_str().unwrap_or_default().to_string())
    };
    let text_id = id_of("Short text").await?;
    let select_id = id_of("Dropdown").await?;
    let check_id = id_of("Checkbox").await?;
    assert!(!text_id.is_empty() && !select_id.is_empty() && !check_id.is_empty());
    open_panel(driver, &text_id).await?;
    panel_input(driver, "when_field")
        .await?
        .send_keys("Dropdown")
        .await?;
    panel_input(driver, "when_op")
        .await?
        .send_keys("is")
        .await?;
    panel_input(driver, "when_value")
        .await?
        .send_keys("option_1")
        .await?;
    driver.find(By::Id("panel-save")).await?.click().await?;
    card_says(driver, &text_id, "conditional").await?;
    // The checkbox must be ticked.
    open_panel(driver, &check_id).await?;
    panel_input(driver, "required").await?.click().await?;
    driver.find(By::Id("panel-save")).await?.click().await?;
    card_says(driver, &check_id, "required").await?;
    // The preview reacts: choosing Option 1 shows the short text.
    let text_input = format!("#preview-fields [name='f_{text_id}']");
    assert!(
        driver.find_all(By::Css(&text_input)).await?.is_empty(),
        "hidden at first"
    );
    driver
        .find(By::Css(format!("#preview-fields [name='f_{select_id}']")))
        .await?
        .send_keys("Option 1")
        .await?;
    wait(driver, By::Css(&text_input)).await?;
    driver
        .find(By::Id("builder-publish"))
        .await?
        .click()
        .await?;
    let status = text_of(driver, By::Css("h1 + span + span")).await?;
    assert!(status.contains("Version 1 is live"), "{status}");

    // The requester asks, forgets the box, fixes it.
    sign_out(driver).await?;
    sign_in(driver, "requester@demo.firelater.test").await?;
    wait(driver, By::Id("main-nav")).await?;
    driver.goto(format!("{base}/catalog")).await?;
    driver
        .find(By::Css("[data-item='Conference headset']"))
        .await?
        .click()
        .await?;
    let form = wait(driver, By::Id("request-form")).await?;
    form.find(By::Name(format!("f_{select_id}")))
        .await?
        .send_keys("Option 1")
        .await?;
    wait(
        driver,
        By::Css(format!("#request-form [name='f_{text_id}']")),
    )
    .await?
    .send_keys("USB-C please")
    .await?;
    driver.find(By::Id("submit-request")).await?.click().await?;
    wait(driver, By::Id(format!("f_{check_id}-error"))).await?;
    let kept = driver
        .find(By::Css(format!("#request-form [name='f_{text_id}']")))
        .await?
        .value()
        .await?
        .unwrap_or_default();
    assert_eq!(kept, "USB-C please", "the answer survives the error");
    driver
        .find(By::Css(format!("#request-form [name='f_{check_id}']")))
        .await?
        .click()
        .await?;
    driver.find(By::Id("submit-request")).await?.click().await?;
    let answers = text_of(driver, By::Id("answers")).await?;
    assert!(answers.contains("USB-C please"), "{answers}");
    let path = driver.current_url().await?.path().to_string();

    // The approver approves from the inbox; the agent completes it.
    sign_out(driver).await?;
    sign_in(driver, "admin@demo.firelater.test").await?;
    wait(driver, By::Id("main-nav")).await?;
    driver.goto(format!("{base}/approvals")).await?;
    let pending = wait(driver, By::Id("pending-approvals")).await?;
    let entry = pending
        .find(By::XPath(".//li[.//a[contains(., 'Conference headset')]]"))
        .await?;
    entry
        .find(By::XPath(".//button[normalize-space()='Approve']"))
        .await?
        .click()
        .await?;
    wait(driver, By::Id("no-approvals")).await?;
    sign_out(driver).await?;
    sign_in(driver, "agent@demo.firelater.test").await?;
    wait(driver, By::Id("main-nav")).await?;
    driver.goto(format!("{base}{path}")).await?;
    // Its one fulfilment task: done, and with it the request.
    let task = wait(driver, By::Css("#tasks li")).await?;
    let text = task.text().await?;
    assert!(text.contains("Hand the headset over"), "{text}");
    task.find(By::Name("notes"))
        .await?
        .send_keys("Handed over at the desk")
        .await?;
    task.find(By::XPath(".//button[normalize-space()='Mark done']"))
        .await?
        .click()
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let chip = text_of(driver, By::Css("h1 + [data-status]")).await?;
        if chip == "Completed" {
            break;
        }
        assert!(Instant::now() < deadline, "status is {chip}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
