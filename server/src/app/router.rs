//! The public router: each area contributes its routes ([`crate::oauth`],
//! [`crate::web`], [`crate::partner`]); here they are joined and wrapped in
//! what applies to every request: the body limit, the timeout, metrics, and
//! `Cache-Control: no-store`.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::metrics;
use crate::oauth::error::OAuthError;
use crate::{oauth, partner, web};

/// OAuth requests are small forms; bound what one request may cost.
const BODY_LIMIT_BYTES: usize = 16 * 1024;
/// A request still unanswered after this gets 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// The public router: OAuth endpoints and pages.
    pub fn public_router(&self) -> Router {
        Router::new()
            .merge(oauth::router())
            .merge(web::router())
            .merge(partner::router())
            .fallback(not_found)
            // Tokens, codes, pages with CSRF fields and errors must never be
            // cached (RFC 6749 5.1, RFC 6750): one layer for every response,
            // so that no endpoint can forget it. A response that chose its own
            // policy (the public metadata document) keeps it.
            .layer(axum::middleware::map_response(no_store))
            .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                REQUEST_TIMEOUT,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.metrics.clone(),
                metrics::track,
            ))
            .with_state(self.clone())
    }
}

/// `Cache-Control: no-store` (and `Pragma: no-cache` for HTTP/1.0 caches)
/// on every response that did not choose a caching policy itself.
async fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    response
}

async fn not_found() -> Response {
    OAuthError::invalid_request("no such endpoint")
        .with_status(StatusCode::NOT_FOUND)
        .into_response()
}
