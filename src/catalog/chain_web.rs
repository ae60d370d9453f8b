//! The approval-chain editor of a catalog item: steps in order, each with its approvers, rule,
//! reminder and timeout, edited with buttons instead of JSON. The form carries the whole chain;
//! every button applies its change and saves the draft when the chain is valid, else shows
//! what to fix with the chain kept as it was typed.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::http::StatusCode;
use axum::response::Response;
use domain::approvals::{Approver, Chain, OnTimeout, RejectWhen, Rule, Stage};
use domain::catalog::schema::{FieldType, FormSchema};

use super::actions;
use super::admin_web::{item_body, values_of};
use super::perm::CATALOG_MANAGE;
use super::store::{self, Item, Viewer};
use crate::platform::auth::session::WebCtx;
use crate::platform::error::{AppError, WebError};
use crate::platform::toast::Toast;
use crate::platform::web::{Errors, Hx, PathId, choices};
use crate::render_page;

/// Something that can approve, as the form's options name it.
struct Candidate {
    token: String,
    label: String,
}

#[derive(Template)]
#[template(path = "catalog/chain.html", blocks = ["content"])]
struct ChainPage {
    chrome: crate::platform::web::Chrome,
    item: Item,
    chain: Chain,
    /// Everyone and everything a step can name, for the "Add an approver" lists.
    options: Vec<Candidate>,
    errors: Errors,
    notice: Option<String>,
}

impl ChainPage {
    /// A step's approvers as (token, name for people).
    fn approvers(&self, s: &Stage) -> Vec<(String, String)> {
        s.approvers
            .iter()
            .map(|a| {
                let t = token(a);
                let label = self
                    .options
                    .iter()
                    .find(|o| o.token == t)
                    .map_or_else(|| t.clone(), |o| o.label.clone());
                (t, label)
            })
            .collect()
    }

    fn rule_key(&self, s: &Stage) -> &'static str {
        match s.rule {
            Rule::All => "all",
            Rule::Any => "any",
            Rule::Quorum(_) => "quorum",
            Rule::Percent(_) => "percent",
        }
    }

    fn rule_n(&self, s: &Stage) -> String {
        match s.rule {
            Rule::Quorum(n) | Rule::Percent(n) => n.to_string(),
            _ => String::new(),
        }
    }

    fn hours(&self, h: &Option<u32>) -> String {
        h.map(|h| h.to_string()).unwrap_or_default()
    }

    /// The rule in words (a group counts its members, so no total is known here).
    fn describe(&self, s: &Stage) -> String {
        let rejecting = match s.reject_when {
            RejectWhen::Any => "one rejection rejects the request",
            RejectWhen::Impossible => "it is rejected once the rule cannot be met",
        };
        let rule = match s.rule {
            Rule::All => "Everyone this step names must approve".to_string(),
            Rule::Any => "One approval is enough".to_string(),
            Rule::Quorum(n) => format!("At least {n} of them must approve"),
            Rule::Percent(p) => format!("At least {p}% of them must approve"),
        };
        format!("{rule}; {rejecting}")
    }

    fn err(&self, i: &usize, key: &str) -> Option<&String> {
        self.errors.get(format!("s{i}.{key}"))
    }
}

fn token(a: &Approver) -> String {
    match a {
        Approver::User { id } => format!("user:{id}"),
        Approver::Group { id } => format!("group:{id}"),
        Approver::Manager => "manager".into(),
        Approver::Role { name } => format!("role:{name}"),
        Approver::ApplicationOwner { field } => format!("app_owner:{field}"),
    }
}

fn approver(token: &str) -> Option<Approver> {
    Some(match token.split_once(':') {
        None if token == "manager" => Approver::Manager,
        Some(("user", id)) => Approver::User {
            id: id.parse().ok()?,
        },
        Some(("group", id)) => Approver::Group {
            id: id.parse().ok()?,
        },
        Some(("role", name)) if !name.is_empty() => Approver::Role { name: name.into() },
        Some(("app_owner", f)) if !f.is_empty() => Approver::ApplicationOwner { field: f.into() },
        _ => return None,
    })
}

async fn options(ctx: &mut WebCtx, item: &Item) -> Result<Vec<Candidate>, AppError> {
    let mut out = vec![Candidate {
        token: "manager".into(),
        label: "The manager of the person it is for".into(),
    }];
    let people = choices(
        &mut ctx.tx,
        "SELECT id, name FROM users WHERE status = 'active' ORDER BY name",
    )
    .await?;
    out.extend(people.into_iter().map(|(id, name)| Candidate {
        token: format!("user:{id}"),
        label: name,
    }));
    let groups = choices(&mut ctx.tx, "SELECT id, name FROM groups ORDER BY name").await?;
    out.extend(groups.into_iter().map(|(id, name)| Candidate {
        token: format!("group:{id}"),
        label: format!("Anyone in {name}"),
    }));
    let roles: Vec<String> = sqlx::query_scalar("SELECT name FROM roles ORDER BY name")
        .fetch_all(&mut *ctx.tx)
        .await?;
    out.extend(roles.into_iter().map(|r| Candidate {
        label: format!("Anyone with the role {}", crate::platform::web::label(&r)),
        token: format!("role:{r}"),
    }));
    if let Ok(form) = serde_json::from_value::<FormSchema>(item.form_schema.clone()) {
        out.extend(
            form.fields
                .iter()
                .filter(|f| f.kind == FieldType::ApplicationPicker)
                .map(|f| Candidate {
                    token: format!("app_owner:{}", f.id),
                    label: format!("The owner of the application in “{}”", f.label),
                }),
        );
    }
    Ok(out)
}

async fn page(
    mut ctx: WebCtx,
    hx: bool,
    item: Item,
    chain: Chain,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let options = options(&mut ctx, &item).await?;
    ctx.tx.commit().await?;
    let page = ChainPage {
        chrome: crate::platform::web::Chrome::new(
            &ctx.principal,
            &ctx.csrf,
            "catalog_manage",
            &ctx.manifest,
            ctx.now,
        ),
        item,
        chain,
        options,
        errors: errors.into(),
        notice,
    };
    Ok(render_page!(hx, page, status))
}

pub async fn show(mut ctx: WebCtx, Hx(hx): Hx, PathId(id): PathId) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let item = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let chain: Chain = serde_json::from_value(item.approval_chain.clone()).unwrap_or_default();
    page(ctx, hx, item, chain, BTreeMap::new(), None, StatusCode::OK).await
}

/// The chain as the form holds it, with the fields that could not be read.
fn read(pairs: &[(String, String)], errors: &mut BTreeMap<String, String>) -> Chain {
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let count: usize = get("count")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
        .min(20);
    let mut stages = Vec::new();
    for i in 0..count {
        let mut number = |key: &str| -> Option<u32> {
            let raw = get(&format!("s{i}.{key}"))?;
            match raw.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.insert(format!("s{i}.{key}"), "Use a whole number.".into());
                    None
                }
            }
        };
        let n = number("n");
        let remind_after_hours = number("remind");
        let timeout_after_hours = number("timeout");
        let rule = match get(&format!("s{i}.rule")) {
            Some("any") => Rule::Any,
            Some("quorum") => Rule::Quorum(n.unwrap_or(0)),
            Some("percent") => Rule::Percent(n.unwrap_or(0)),
            _ => Rule::All,
        };
        let approvers = pairs
            .iter()
            .filter(|(k, _)| *k == format!("s{i}.approver"))
            .filter_map(|(_, v)| approver(v))
            .collect();
        stages.push(Stage {
            name: get(&format!("s{i}.name")).map(str::to_string),
            approvers,
            rule,
            reject_when: match get(&format!("s{i}.reject_when")) {
                Some("impossible") => RejectWhen::Impossible,
                _ => RejectWhen::Any,
            },
            remind_after_hours,
            timeout_after_hours,
            on_timeout: match get(&format!("s{i}.on_timeout")) {
                Some("escalate") => OnTimeout::Escalate,
                _ => OnTimeout::Reject,
            },
        });
    }
    Chain { stages }
}

/// Applies the pressed button to the chain; a refusal names the field it concerns.
fn apply(
    chain: &mut Chain,
    op: &str,
    pairs: &[(String, String)],
) -> Result<&'static str, (String, String)> {
    let len = chain.stages.len();
    let at = |s: &str| s.parse::<usize>().ok().filter(|i| *i < len);
    let parts: Vec<&str> = op.split(':').collect();
    match parts.as_slice() {
        ["save"] => Ok("The approval chain is saved to the draft."),
        ["add"] => {
            chain.stages.push(Stage {
                name: None,
                approvers: Vec::new(),
                rule: Rule::All,
                reject_when: RejectWhen::Any,
                remind_after_hours: None,
                timeout_after_hours: None,
                on_timeout: OnTimeout::Reject,
            });
            Ok("A step was added.")
        }
        ["remove", i] if at(i).is_some() => {
            chain.stages.remove(at(i).unwrap_or_default());
            Ok("The step was removed.")
        }
        ["up", i] if at(i).is_some_and(|i| i > 0) => {
            let i = at(i).unwrap_or_default();
            chain.stages.swap(i - 1, i);
            Ok("The step moved up.")
        }
        ["down", i] if at(i).is_some_and(|i| i + 1 < len) => {
            let i = at(i).unwrap_or_default();
            chain.stages.swap(i, i + 1);
            Ok("The step moved down.")
        }
        ["add_approver", i] if at(i).is_some() => {
            let i = at(i).unwrap_or_default();
            let key = format!("s{i}.add");
            let chosen = pairs
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| approver(v.trim()));
            let Some(a) = chosen else {
                return Err((key, "Choose whom to add.".into()));
            };
            let stage = &mut chain.stages[i];
            if stage.approvers.contains(&a) {
                return Err((key, "This step names them already.".into()));
            }
            stage.approvers.push(a);
            Ok("The approver was added.")
        }
        ["remove_approver", i, j] if at(i).is_some() => {
            let stage = &mut chain.stages[at(i).unwrap_or_default()];
            match j
                .parse::<usize>()
                .ok()
                .filter(|j| *j < stage.approvers.len())
            {
                Some(j) => {
                    stage.approvers.remove(j);
                    Ok("The approver was removed.")
                }
                None => Err(("op".into(), "That approver is not in the step.".into())),
            }
        }
        _ => Err(("op".into(), "That button does not fit the chain.".into())),
    }
}

/// `approval_chain.stages[2].approvers[0]` → `s2.approvers`: the editor's field for a path the
/// item's checks report.
fn field_of(path: &str) -> String {
    let rest = path.strip_prefix("approval_chain.").unwrap_or(path);
    let Some(rest) = rest.strip_prefix("stages[") else {
        return "stages".into();
    };
    let (i, tail) = rest.split_once(']').unwrap_or((rest, ""));
    let key = tail.trim_start_matches('.');
    let key = key.split(['[', '.']).next().unwrap_or_default();
    let short = match key {
        "remind_after_hours" => "remind",
        "timeout_after_hours" => "timeout",
        "rule" => "n",
        "" => "approvers",
        k => k,
    };
    format!("s{i}.{short}")
}

pub async fn apply_form(
    mut ctx: WebCtx,
    Hx(hx): Hx,
    PathId(id): PathId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, WebError> {
    ctx.require(CATALOG_MANAGE)?;
    let before = store::item(&mut ctx.tx, id, Viewer::Manager).await?;
    let mut errors = BTreeMap::new();
    let mut chain = read(&pairs, &mut errors);
    let op = pairs
        .iter()
        .find(|(k, _)| k == "op")
        .map_or("save", |(_, v)| v.as_str())
        .to_string();
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let said = match apply(&mut chain, &op, &pairs) {
        Ok(said) => said,
        Err((field, msg)) => {
            errors.insert(field, msg);
            ""
        }
    };
    if !errors.is_empty() {
        let notice = Some("Nothing was saved yet: fix what is marked.".into());
        return page(ctx, hx, before, chain, errors, notice, unprocessable).await;
    }
    // The rest of the item stays as its draft is.
    let mut values = values_of(&before);
    values.insert(
        "approval_chain",
        serde_json::to_string(&chain).unwrap_or_default(),
    );
    let body = item_body(&values, &mut errors);
    let saved = ctx
        .save(async |ctx| {
            let (actor, slug) = (ctx.actor(), ctx.principal.slug.clone());
            actions::save_item(&mut ctx.tx, &slug, &actor, Some(id), &body).await
        })
        .await?;
    match saved {
        Ok(_) => {
            let to = format!("/catalog/manage/items/{id}/approvals");
            ctx.saved_with(hx, &to, &Toast::success(said)).await
        }
        Err(refused) => {
            let mut errors = BTreeMap::new();
            let mut other = Vec::new();
            for (path, msg) in refused.errors.0 {
                if path.starts_with("approval_chain") {
                    errors.entry(field_of(&path)).or_insert(msg);
                } else {
                    other.push(format!("{path}: {msg}"));
                }
            }
            let notice = match (other.is_empty(), refused.notice) {
                (_, Some(n)) => Some(n),
                (false, None) => Some(format!(
                    "The item's draft has other problems to fix first: {}.",
                    other.join("; ")
                )),
                (true, None) => Some("Nothing was saved yet: fix what is marked.".into()),
            };
            page(ctx, hx, before, chain, errors, notice, refused.status).await
        }
    }
}
