//! `/reftrack.js`, `/reftrack_bg.wasm`, `/reftrack.d.ts`: the snippet built into `www/dist/`.

use super::error::ApiError;
use super::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

async fn serve(state: &AppState, file: &str, content_type: &'static str) -> Result<Response, ApiError> {
    let path = state.settings.www_dir.join("dist").join(file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, content_type),
                // Third-party pages load these cross-origin; the wasm needs CORS for streaming compile.
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "snippet_not_built",
            format!("{file} is not built yet: run `cargo xtask snippet` (it writes {})", path.display()),
        )),
        Err(e) => Err(ApiError::Internal(anyhow::Error::new(e).context(format!("reading {}", path.display())))),
    }
}

/// The JS loader.
pub async fn loader(State(state): State<AppState>) -> Result<Response, ApiError> {
    serve(&state, "reftrack.js", "text/javascript; charset=utf-8").await
}

/// The WebAssembly module.
pub async fn wasm(State(state): State<AppState>) -> Result<Response, ApiError> {
    serve(&state, "reftrack_bg.wasm", "application/wasm").await
}

/// TypeScript declarations.
pub async fn types(State(state): State<AppState>) -> Result<Response, ApiError> {
    serve(&state, "reftrack.d.ts", "application/typescript; charset=utf-8").await
}
