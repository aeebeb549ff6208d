//! The public router: each area contributes its routes ([`crate::oauth`],
//! [`crate::web`], [`crate::partner`]); here they are joined and wrapped in
//! what applies to every request: the body limit, the timeout, metrics,
//! `Cache-Control: no-store`, OAuth JSON for the framework's own 405 and 413
//! answers, HSTS when the public URL is https, and a JSON 500 for a handler
//! that panicked.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;
use crate::metrics;
use crate::oauth::error::OAuthError;
use crate::{alexa, app_to_app, oauth, partner, web};

/// OAuth requests are small forms; bound what one request may cost.
const BODY_LIMIT_BYTES: usize = 16 * 1024;
/// A request still unanswered after this gets 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// The public router: OAuth endpoints and pages.
    pub fn public_router(&self) -> Router {
        let router = Router::new()
            .merge(oauth::router())
            .merge(web::router())
            .merge(partner::router())
            .merge(alexa::router())
            .merge(app_to_app::router())
            .fallback(not_found)
            // One stack, applied once, outermost first: the router boxes
            // each `layer` call's service around every route, and clones
            // (and boxes the future of) every box on every request, so
            // separate calls cost an allocation per layer per request.
            .layer(
                ServiceBuilder::new()
                    .layer(axum::middleware::from_fn_with_state(
                        self.metrics.clone(),
                        metrics::track,
                    ))
                    .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                        StatusCode::SERVICE_UNAVAILABLE,
                        REQUEST_TIMEOUT,
                    ))
                    // Inside the metrics layer, so that a panic is counted as
                    // a 500 of its route as well as in `handler_panics`.
                    .layer(catch_panics(self.metrics.clone()))
                    .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
                    // Tokens, codes, pages with CSRF fields and errors must
                    // never be cached (RFC 6749 5.1, RFC 6750): one layer for
                    // every response, so that no endpoint can forget it. A
                    // response that chose its own policy (the public metadata
                    // document) keeps it.
                    .layer(axum::middleware::map_response(no_store))
                    // Inside the no-store layer, so the JSON it makes is not
                    // cached.
                    .layer(axum::middleware::map_response(framework_errors_as_json)),
            )
            .with_state(self.clone());
        if self.config.server.public_url.scheme() == "https" {
            // Browsers then never try the login pages over plain HTTP. No
            // includeSubDomains: the skill's other hosts are not ours to pin.
            router.layer(SetResponseHeaderLayer::if_not_present(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(HSTS),
            ))
        } else {
            router
        }
    }
}

/// One year, the usual HSTS lifetime.
const HSTS: &str = "max-age=31536000";

/// The framework answers a wrong method (405) and an oversized body (413)
/// in plain text; clients of an OAuth endpoint expect its JSON error body.
/// A handler's own JSON answer with those statuses is left as it is.
async fn framework_errors_as_json(response: Response) -> Response {
    let description = match response.status() {
        StatusCode::METHOD_NOT_ALLOWED => "this endpoint does not take that HTTP method",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large",
        _ => return response,
    };
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return response;
    }
    let status = response.status();
    let allow = response.headers().get(header::ALLOW).cloned();
    let mut json = OAuthError::invalid_request(description)
        .with_status(status)
        .into_response();
    if let Some(allow) = allow {
        json.headers_mut().insert(header::ALLOW, allow);
    }
    json
}

/// A bug in a handler answers `500 {"error":"server_error"}` and is
/// counted, instead of dropping the client's connection.
pub(crate) fn catch_panics(
    metrics: metrics::Metrics,
) -> tower_http::catch_panic::CatchPanicLayer<
    impl tower_http::catch_panic::ResponseForPanic<ResponseBody = axum::body::Body>,
> {
    tower_http::catch_panic::CatchPanicLayer::custom(
        move |panic: Box<dyn std::any::Any + Send + 'static>| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %message, "a request handler panicked");
            metrics.panic();
            let mut response = OAuthError::new(
                crate::oauth::error::ErrorCode::ServerError,
                "internal error",
            )
            .with_status(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
            // The no-store layer is outside this one; a panic must not
            // make the answer cacheable.
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        },
    )
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

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500_and_is_counted() {
        let metrics = metrics::Metrics::new();
        let app: Router = Router::new()
            .route("/boom", get(boom))
            .layer(catch_panics(metrics.clone()));
        let response = app
            .oneshot(Request::get("/boom").body(Body::empty()).expect("request"))
            .await
            .expect("an answer, not a dropped connection");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response
                .headers()
                .get(header::CACHE_CONTROL)
                .map(|v| v.as_bytes()),
            Some(&b"no-store"[..])
        );
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(json["error"], "server_error");
        assert!(
            metrics
                .encode()
                .contains("alexa_link_handler_panics_total 1"),
            "{}",
            metrics.encode()
        );
    }
}
