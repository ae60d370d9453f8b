//! Speaking each provider's API: Slack (incoming webhook, or `chat.postMessage` with a bot
//! token), Microsoft Teams (workflow webhook with an Adaptive Card), PagerDuty (Events API v2
//! with a stable `dedup_key`, resolved when the issue is), Twilio-compatible SMS and a generic
//! JSON webhook. Every call goes through the SSRF-guarded client; the answer says whether a
//! retry can help.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::store::Account;
use crate::platform::mail::{self, Email};
use crate::platform::outbound::{self, Failure, Outbound, Refused};

/// What to say, whatever the provider.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// The spec event (`issue.created`), or `integration.test`.
    pub event: String,
    pub subject: String,
    pub body: String,
    /// Absolute link to the record.
    pub link: Option<String>,
    /// PagerDuty: the same key for every event about one record, so they form one incident.
    pub dedup_key: Option<String>,
    /// PagerDuty severity: `critical`, `error`, `warning` or `info`.
    pub severity: String,
    /// PagerDuty: this event resolves the incident (the issue was resolved or closed).
    pub resolves: bool,
    /// Structured data for the generic webhook.
    pub data: Value,
}

/// How a send went.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Worth retrying (time-out, 5xx, 429), after the provider's `Retry-After` if it gave one.
    Retry(String, Option<Duration>),
    /// Retrying cannot help (4xx, refused target, missing setting).
    Failed(String),
}

/// Sends `m` through `account` to `to` (a Slack channel, a phone number or a mail address, when
/// the account's default is not meant).
pub async fn send(
    outbound: &Outbound,
    account: &Account,
    to: Option<&str>,
    m: &Message,
    now: DateTime<Utc>,
    mail_from: &str,
) -> Outcome {
    match account.kind.as_str() {
        "slack" => slack(outbound, account, to, m, now).await,
        "teams" => teams(outbound, account, m, now).await,
        "pagerduty" => pagerduty(outbound, account, m, now).await,
        "sms" => sms(outbound, account, to, m, now).await,
        "webhook" => webhook(outbound, account, m, now).await,
        "email" => email(outbound, account, to, m, mail_from).await,
        other => Outcome::Failed(format!("unknown integration type {other}")),
    }
}

fn text_with_link(m: &Message) -> String {
    match &m.link {
        Some(l) => format!("{}\n{}\n{l}", m.subject, m.body),
        None => format!("{}\n{}", m.subject, m.body),
    }
}

/// POSTs and judges the answer by HTTP status alone.
async fn post(
    outbound: &Outbound,
    url: &str,
    req: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    now: DateTime<Utc>,
) -> Result<outbound::Answer, Outcome> {
    let url = outbound
        .check(url)
        .map_err(|r| Outcome::Failed(format!("target refused: {r}")))?;
    let answer = outbound::exchange(req(outbound.client().post(url)), now)
        .await
        .map_err(|f| match f {
            Failure::Refused(why) => Outcome::Failed(format!("target refused: {why}")),
            Failure::Transport(why) => Outcome::Retry(why, None),
        })?;
    match answer.status {
        200..=299 => Ok(answer),
        429 | 500..=599 => Err(Outcome::Retry(
            format!("HTTP {}: {}", answer.status, answer.body),
            answer.retry_after,
        )),
        s => Err(Outcome::Failed(format!("HTTP {s}: {}", answer.body))),
    }
}

fn judged(r: Result<outbound::Answer, Outcome>) -> Outcome {
    match r {
        Ok(_) => Outcome::Delivered,
        Err(o) => o,
    }
}

fn base(account: &Account) -> String {
    account
        .setting("base_url")
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_string()
}

async fn slack(
    outbound: &Outbound,
    a: &Account,
    to: Option<&str>,
    m: &Message,
    now: DateTime<Utc>,
) -> Outcome {
    let text = match &m.link {
        Some(l) => format!("*{}*\n{}\n<{l}|Open in FireLater>", m.subject, m.body),
        None => format!("*{}*\n{}", m.subject, m.body),
    };
    // A bot token can post anywhere (channels and DMs); an incoming webhook only to its channel.
    let channel = to.map(str::to_string).or_else(|| a.setting("channel"));
    match (a.secret("bot_token"), a.secret("webhook_url"), channel) {
        (Some(token), _, Some(channel)) => {
            let url = format!("{}/api/chat.postMessage", base(a));
            let body = json!({"channel": channel, "text": text});
            let answer = match post(outbound, &url, |r| r.bearer_auth(token).json(&body), now).await
            {
                Ok(a) => a,
                Err(o) => return o,
            };
            // Slack answers 200 with {"ok": false, "error": …} for refusals.
            let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
            match (v["ok"].as_bool(), v["error"].as_str()) {
                (Some(true), _) => Outcome::Delivered,
                (_, Some("ratelimited")) => Outcome::Retry("Slack: ratelimited".into(), None),
                (_, Some(e)) => Outcome::Failed(format!("Slack: {e}")),
                _ => Outcome::Failed(format!("Slack answered: {}", answer.body)),
            }
        }
        (_, Some(hook), _) if to.is_none() => {
            judged(post(outbound, hook, |r| r.json(&json!({"text": text})), now).await)
        }
        _ => Outcome::Failed(
            "this Slack integration cannot reach that target (a direct message needs a bot token)"
                .into(),
        ),
    }
}

async fn teams(outbound: &Outbound, a: &Account, m: &Message, now: DateTime<Utc>) -> Outcome {
    let Some(hook) = a.secret("webhook_url") else {
        return Outcome::Failed("the Teams workflow URL is not set".into());
    };
    let mut body = vec![
        json!({"type": "TextBlock", "text": m.subject, "weight": "Bolder", "wrap": true}),
        json!({"type": "TextBlock", "text": m.body, "wrap": true}),
    ];
    let actions: Vec<Value> = m
        .link
        .iter()
        .map(|l| json!({"type": "Action.OpenUrl", "title": "Open in FireLater", "url": l}))
        .collect();
    if m.body.is_empty() {
        body.pop();
    }
    let card = json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions,
            }
        }]
    });
    judged(post(outbound, hook, |r| r.json(&card), now).await)
}

async fn pagerduty(outbound: &Outbound, a: &Account, m: &Message, now: DateTime<Utc>) -> Outcome {
    let Some(key) = a.secret("routing_key") else {
        return Outcome::Failed("the PagerDuty routing key is not set".into());
    };
    let mut event = json!({
        "routing_key": key,
        "event_action": if m.resolves { "resolve" } else { "trigger" },
        "payload": {
            "summary": m.subject.chars().take(1024).collect::<String>(),
            "source": "firelater",
            "severity": m.severity,
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "custom_details": {"event": m.event, "details": m.body},
        },
    });
    if let Some(k) = &m.dedup_key {
        event["dedup_key"] = json!(k);
    }
    if let Some(l) = &m.link {
        event["links"] = json!([{"href": l, "text": "Open in FireLater"}]);
    }
    let url = format!("{}/v2/enqueue", base(a));
    judged(post(outbound, &url, |r| r.json(&event), now).await)
}

async fn sms(
    outbound: &Outbound,
    a: &Account,
    to: Option<&str>,
    m: &Message,
    now: DateTime<Utc>,
) -> Outcome {
    let (Some(sid), Some(from), Some(token)) = (
        a.setting("account_sid"),
        a.setting("from_number"),
        a.secret("auth_token"),
    ) else {
        return Outcome::Failed("the SMS account, sender number or token is not set".into());
    };
    let Some(to) = to else {
        return Outcome::Failed("no phone number to send to".into());
    };
    // One SMS segment's worth is what a pager-style text needs.
    let text: String = text_with_link(m).chars().take(320).collect();
    let url = format!("{}/2010-04-01/Accounts/{sid}/Messages.json", base(a));
    let form = [("To", to), ("From", from.as_str()), ("Body", text.as_str())];
    judged(
        post(
            outbound,
            &url,
            |r| r.basic_auth(&sid, Some(token)).form(&form),
            now,
        )
        .await,
    )
}

async fn webhook(outbound: &Outbound, a: &Account, m: &Message, now: DateTime<Utc>) -> Outcome {
    let Some(url) = a.setting("url") else {
        return Outcome::Failed("the webhook URL is not set".into());
    };
    let body = json!({
        "type": m.event, "subject": m.subject, "text": m.body, "link": m.link, "data": m.data,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let auth = a.secret("authorization").map(str::to_string);
    judged(
        post(
            outbound,
            &url,
            |r| match auth {
                Some(v) => r.header("authorization", v).json(&body),
                None => r.json(&body),
            },
            now,
        )
        .await,
    )
}

/// The account's SMTP server as a mail transport.
/// The tenant's SMTP server as a transport that connects only to the address the outbound
/// guard checked for its host (at connect time, after DNS).
pub async fn smtp(outbound: &Outbound, a: &Account) -> anyhow::Result<mail::SmtpTransport> {
    let host = a
        .setting("host")
        .ok_or_else(|| anyhow::anyhow!("the SMTP host is not set"))?;
    let port: u16 = a
        .setting("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or(587);
    let address = outbound.resolve(&host, port).await?;
    let tls = a.setting("tls").unwrap_or_else(|| "starttls".into());
    let login = a
        .setting("username")
        .map(|u| (u, a.secret("password").unwrap_or_default().to_string()));
    let ip = address.ip().to_string();
    mail::SmtpTransport::connecting_to(&ip, host.trim_end_matches('.'), port, &tls, login)
}

/// An SMTP failure as the person configuring it may see it: what the server answered, but
/// never whether a port was open, closed or silent (that would make the test button a port
/// scanner).
pub fn smtp_failure(e: &anyhow::Error) -> String {
    if let Some(r) = e.downcast_ref::<Refused>() {
        return format!("refused by the outbound guard: {r}");
    }
    if let Some(s) = e.downcast_ref::<lettre::transport::smtp::Error>()
        && let Some(code) = s.status()
    {
        return format!("the mail server answered {code}: {s}");
    }
    "the mail server could not be reached or did not speak SMTP".into()
}

async fn email(
    outbound: &Outbound,
    a: &Account,
    to: Option<&str>,
    m: &Message,
    fallback_from: &str,
) -> Outcome {
    let Some(to) = to else {
        return Outcome::Failed("no mail address to send to".into());
    };
    let transport = match smtp(outbound, a).await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(smtp_failure(&e)),
    };
    let from = a
        .setting("from")
        .unwrap_or_else(|| fallback_from.to_string());
    let mail = Email {
        to: to.to_string(),
        subject: m.subject.clone(),
        body_text: text_with_link(m),
        ..Default::default()
    };
    match mail::Transport::send(&transport, &from, &mail).await {
        Ok(()) => Outcome::Delivered,
        Err(e) => Outcome::Retry(format!("SMTP: {}", smtp_failure(&e)), None),
    }
}
