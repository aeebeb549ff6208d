//! The admin listener's endpoints: liveness, readiness, metrics, the
//! flight recorder, and revoking a user who left.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::AppState;
use crate::deprovision;
use crate::oauth::form::Params;
use crate::routes;

impl AppState {
    /// The admin router: health, readiness, metrics.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route(routes::HEALTHZ, get(|| async { "ok\n" }))
            .route(routes::READYZ, get(readyz))
            .route(routes::METRICS, get(metrics_text))
            .route(routes::FLIGHT_RECORDER, get(flight_recorder))
            .route(routes::REVOKE_USER, post(revoke_user))
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

#[derive(serde::Deserialize)]
struct FlightQuery {
    client_id: Option<String>,
}

/// The flight recorder as JSON, or as a page when a browser asks.
async fn flight_recorder(
    State(app): State<AppState>,
    Query(query): Query<FlightQuery>,
    headers: HeaderMap,
) -> Response {
    let snapshot = app.flight_recorder.snapshot(query.client_id.as_deref());
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        let mut response = crate::flight_recorder::page(&snapshot).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    let clients: serde_json::Map<String, serde_json::Value> = snapshot
        .into_iter()
        .map(|(id, entries)| (id, serde_json::to_value(entries).unwrap_or_default()))
        .collect();
    axum::Json(serde_json::json!({ "clients": clients })).into_response()
}

/// `POST /revoke-user` with `user_id`: every grant of the user revoked and
/// their Amazon tokens deleted; answers what was ended, as JSON.
async fn revoke_user(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let params = match Params::from_form(&headers, &body) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let user_id = match params.require("user_id") {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let partners: Vec<String> = app.config.partners.iter().map(|p| p.id.clone()).collect();
    match deprovision::revoke_user(
        app.store.as_ref(),
        &app.metrics,
        &partners,
        user_id,
        app.clock.now(),
    )
    .await
    {
        Ok(revoked) => axum::Json(revoked).into_response(),
        Err(e) => crate::oauth::error::OAuthError::from(e).into_response(),
    }
}
