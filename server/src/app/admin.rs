//! The admin listener's endpoints: liveness, readiness, metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use crate::routes;

impl AppState {
    /// The admin router: health, readiness, metrics.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route(routes::HEALTHZ, get(|| async { "ok\n" }))
            .route(routes::READYZ, get(readyz))
            .route(routes::METRICS, get(metrics_text))
            .with_state(self.clone())
    }
}

/// Ready when the store answers: a replica that cannot reach it would fail
/// every token request.
async fn readyz(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response()
        }
    }
}

async fn metrics_text(State(app): State<AppState>) -> Response {
    let mut response = app.metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
