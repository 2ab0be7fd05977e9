//! Promotional resources: the merchant's `GET|POST /v1/admin/resources` and
//! `DELETE /v1/admin/resources/{id}`; a partner's `GET /v1/partners/{code}/resources` (their own
//! link inside each); and the uploaded images, public so partners' pages can show them
//! (`GET /v1/resources/{id}/image`), served as inert images.

use super::auth::{require_admin, require_partner_or_admin};
use super::error::ApiError;
use super::extract::{parse_json, RawBody};
use super::state::AppState;
use crate::backoffice::resources::{self, ResourceInput};
use crate::domain::image::ImageType;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// Every resource (uploaded images as their public address).
pub async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let base = state.base_url();
    let list: Vec<serde_json::Value> = state
        .store
        .resources()
        .await?
        .into_iter()
        .map(|r| {
            let src = if r.uploaded { Some(resources::image_address(&base, r.id)) } else { r.image_url.clone() };
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["image_src"] = json!(src);
            v
        })
        .collect();
    Ok(Json(json!({ "resources": list })))
}

/// Adds a banner or a text (an image of at most 256 KiB, base64 in the JSON body).
pub async fn add(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody<400_000>,
) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    let input: ResourceInput = parse_json(&body)?;
    Ok((StatusCode::CREATED, Json(resources::add(&state.store, input, state.clock.now_ms()).await?)))
}

/// Removes a resource.
pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    require_admin(&state, &headers).await?;
    resources::delete(&state.store, id).await?;
    Ok(Json(json!({ "deleted": id })))
}

/// A partner's resources, with their own link inside each.
pub async fn for_partner(
    State(state): State<AppState>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    require_partner_or_admin(&state, &headers, &code).await?;
    match resources::partner_resources(&state.store, &code, &state.base_url()).await? {
        Some(list) => Ok(Json(json!({ "partner": code, "resources": list }))),
        None => Err(ApiError::not_found("unknown_partner", format!("no partner {code:?}"))),
    }
}

/// An uploaded banner: only the image types we sniffed, never run as a document.
pub async fn image(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let Some((bytes, content_type)) = state.store.resource_image(id).await? else {
        return Err(ApiError::not_found("unknown_resource", format!("no image for resource {id}")));
    };
    let content_type = ImageType::from_content_type(&content_type).map_or("application/octet-stream", ImageType::content_type);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::HeaderName::from_static("cross-origin-resource-policy"), "cross-origin"),
        ],
        bytes,
    )
        .into_response())
}
