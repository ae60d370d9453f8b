//! `/v1/notification-channels…` (where groups' events go) and `/v1/notification-templates…`
//! (what messages say, with a preview).

use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::channels::{self, Channel, ChannelBody};
use super::templates::{self, Template, TemplateBody};
use crate::platform::auth::api::ApiCtx;
use crate::platform::error::AppError;
use crate::platform::json::ApiJson;
use crate::platform::openapi::Items;
use crate::platform::web::PathId;

const ID: &str = "Notification channel id";

#[utoipa::path(get, path = "/notification-channels", tag = "notifications",
    operation_id = "listNotificationChannels", responses((status = 200, body = Items<Channel>)))]
pub async fn list_channels(mut ctx: ApiCtx) -> Result<Json<Items<Channel>>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let data = channels::list(&mut ctx.tx).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// `target`: a mail address for an email integration, a phone number for SMS, a Slack channel
/// (default: the integration's); none for Teams, PagerDuty and webhooks.
#[utoipa::path(post, path = "/notification-channels", tag = "notifications",
    operation_id = "createNotificationChannel", request_body = ChannelBody,
    responses((status = 201, body = Channel)))]
pub async fn create_channel(
    mut ctx: ApiCtx,
    ApiJson(body): ApiJson<ChannelBody>,
) -> Result<impl IntoResponse, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_CREATE)?;
    let actor = ctx.actor();
    let c = channels::create(&mut ctx.tx, &ctx.manifest, &actor, &body).await?;
    ctx.commit().await?;
    Ok((StatusCode::CREATED, Json(c)))
}

#[utoipa::path(get, path = "/notification-channels/{id}", tag = "notifications",
    operation_id = "getNotificationChannel", params(("id" = Uuid, Path, description = ID)),
    responses((status = 200, body = Channel)))]
pub async fn get_channel(mut ctx: ApiCtx, PathId(id): PathId) -> Result<Json<Channel>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let c = channels::get(&mut ctx.tx, id).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

#[utoipa::path(put, path = "/notification-channels/{id}", tag = "notifications",
    operation_id = "updateNotificationChannel", params(("id" = Uuid, Path, description = ID)),
    request_body = ChannelBody, responses((status = 200, body = Channel)))]
pub async fn update_channel(
    mut ctx: ApiCtx,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ChannelBody>,
) -> Result<Json<Channel>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let actor = ctx.actor();
    let c = channels::update(&mut ctx.tx, &ctx.manifest, &actor, id, &body).await?;
    ctx.commit().await?;
    Ok(Json(c))
}

#[utoipa::path(delete, path = "/notification-channels/{id}", tag = "notifications",
    operation_id = "deleteNotificationChannel", params(("id" = Uuid, Path, description = ID)),
    responses((status = 204, description = "Deleted")))]
pub async fn delete_channel(mut ctx: ApiCtx, PathId(id): PathId) -> Result<StatusCode, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_DELETE)?;
    let actor = ctx.actor();
    channels::delete(&mut ctx.tx, &actor, id).await?;
    ctx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/notification-templates", tag = "notifications",
    operation_id = "listNotificationTemplates",
    responses((status = 200, description = "Every event × channel kind, the default or the tenant's own", body = Items<Template>)))]
pub async fn list_templates(mut ctx: ApiCtx) -> Result<Json<Items<Template>>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let data = templates::list(&mut ctx.tx, &ctx.manifest).await?;
    ctx.commit().await?;
    Ok(Json(Items { data }))
}

/// Variables: `{{number}}`, `{{title}}`, `{{event}}`, `{{verb}}`, `{{link}}`, `{{priority}}`,
/// `{{actor}}`, and the area's own (for issues `{{status}}`, `{{group}}`, `{{assignee}}`,
/// `{{changes}}`). An unknown variable answers 422 naming it.
#[utoipa::path(put, path = "/notification-templates/{event}/{channel}", tag = "notifications",
    operation_id = "updateNotificationTemplate",
    params(("event" = String, Path, description = "The event in full: issue.created, issue.assigned, …"),
           ("channel" = String, Path, description = "email, chat or sms")),
    request_body = TemplateBody,
    responses((status = 200, body = Template), (status = 404, description = "No such event or channel kind")))]
pub async fn put_template(
    mut ctx: ApiCtx,
    Path((event, channel)): Path<(String, String)>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> Result<Json<Template>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let known = templates::known(&ctx.manifest, &event, &channel)?;
    let actor = ctx.actor();
    let t = templates::save(&mut ctx.tx, &actor, known, &channel, &body).await?;
    ctx.commit().await?;
    Ok(Json(t))
}

/// Back to the shipped default.
#[utoipa::path(delete, path = "/notification-templates/{event}/{channel}", tag = "notifications",
    operation_id = "resetNotificationTemplate",
    params(("event" = String, Path, description = "The event in full: issue.created, …"),
           ("channel" = String, Path, description = "email, chat or sms")),
    responses((status = 200, body = Template), (status = 404, description = "No such event or channel kind")))]
pub async fn reset_template(
    mut ctx: ApiCtx,
    Path((event, channel)): Path<(String, String)>,
) -> Result<Json<Template>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_UPDATE)?;
    let known = templates::known(&ctx.manifest, &event, &channel)?;
    let actor = ctx.actor();
    let t = templates::reset(&mut ctx.tx, &actor, known, &channel).await?;
    ctx.commit().await?;
    Ok(Json(t))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub subject: String,
    pub body: String,
}

/// A template to try, and the event whose variables it may use.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The event in full (`issue.created`, the default).
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub subject: String,
    pub body: String,
}

/// Renders a template with sample values (`ISS-00042`, …) without saving it.
#[utoipa::path(post, path = "/notification-templates/preview", tag = "notifications",
    operation_id = "previewNotificationTemplate", request_body = PreviewBody,
    responses((status = 200, body = Preview), (status = 422, description = "The template or the event is wrong")))]
pub async fn preview_template(
    ctx: ApiCtx,
    ApiJson(b): ApiJson<PreviewBody>,
) -> Result<Json<Preview>, AppError> {
    ctx.require(crate::integrations::perm::INTEGRATIONS_READ)?;
    let event = b.event.as_deref().unwrap_or("issue.created");
    let known = super::topics::by_name(&ctx.manifest, event).ok_or_else(|| {
        let names = super::topics::names(&ctx.manifest);
        AppError::field("event", format!("must be one of {names}"))
    })?;
    let body = TemplateBody {
        subject: b.subject,
        body: b.body,
    };
    let (subject, body) = templates::preview(known.audience, &body)?;
    Ok(Json(Preview { subject, body }))
}
