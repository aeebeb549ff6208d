//! Prometheus metrics: requests by route and status, latency histograms,
//! grant outcomes by OAuth error code, login and authorize failures,
//! audit-log events by type, the purge of expired items.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::routes;
use crate::store::{Store, UnixTime};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GrantLabels {
    grant_type: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AuditLabels {
    event: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    client: String,
    step: &'static str,
    grant_type: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: &'static str,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// The server's metrics. Cheap to clone: one reference count, since the
/// metrics layer's state is cloned for every request (each handle inside is
/// its own `Arc`; cloning them all cost 17 atomic increments and decrements
/// per request).
#[derive(Clone)]
pub struct Metrics(Arc<Handles>);

/// Every metric's handle, shared by the clones of [`Metrics`].
pub struct Handles {
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: HistogramFamily,
    grants: Family<GrantLabels, Counter>,
    logins: Family<OutcomeLabels, Counter>,
    authorize_errors: Family<OutcomeLabels, Counter>,
    linking_failures: Family<CauseLabels, Counter>,
    panics: Counter,
    audit: Family<AuditLabels, Counter>,
    last_audit: Family<EventLabels, Gauge>,
    linking_steps: Family<StepLabels, Counter>,
    app_to_app: Family<OutcomeLabels, Counter>,
    purges: Family<OutcomeLabels, Counter>,
    purged_items: Counter,
    purge_duration: Histogram,
    last_purge: Gauge,
}

impl std::ops::Deref for Metrics {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        &self.0
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        Self::with_store(None)
    }

    /// Registers every metric, and those `store` keeps about itself.
    pub fn with_store(store: Option<&dyn Store>) -> Metrics {
        let mut registry = Registry::with_prefix("alexa_link");
        if let Some(store) = store {
            store.register_metrics(registry.sub_registry_with_prefix("store"));
        }
        let requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let latency: HistogramFamily =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let grants = Family::<GrantLabels, Counter>::default();
        registry.register(
            "oauth_grants",
            "Token endpoint outcomes by grant type and OAuth error code (or success)",
            grants.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("login_failures", "Failed logins by reason", logins.clone());
        let authorize_errors = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "authorize_errors",
            "Refused authorization requests by OAuth error code",
            authorize_errors.clone(),
        );
        let linking_failures = Family::<CauseLabels, Counter>::default();
        registry.register(
            "linking_failures",
            "Failed linking steps by cause (the flight recorder's hint ids)",
            linking_failures.clone(),
        );
        let panics = Counter::default();
        registry.register(
            "handler_panics",
            "Requests whose handler panicked (answered with a JSON 500)",
            panics.clone(),
        );
        let audit = Family::<AuditLabels, Counter>::default();
        registry.register(
            "audit_events",
            "Audit-log entries by event and outcome (see the audit module)",
            audit.clone(),
        );
        let last_audit = Family::<EventLabels, Gauge>::default();
        registry.register(
            "audit_last_event_timestamp_seconds",
            "Unix time of the last successful audit-log entry by event (partner-token freshness: amazon_tokens_refreshed)",
            last_audit.clone(),
        );
        let linking_steps = Family::<StepLabels, Counter>::default();
        registry.register(
            "linking_steps",
            "Linking steps the flight recorder keeps, by configured client (or unknown), step, grant type and outcome: code exchanges, refused authorizations, failed token requests",
            linking_steps.clone(),
        );
        let app_to_app = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "app_to_app_completions",
            "App-to-App linkings completed, by outcome (linked, or the error code)",
            app_to_app.clone(),
        );
        let purges = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "purges",
            "Runs of the purge of expired codes, tokens and grants, by outcome (ok, failed)",
            purges.clone(),
        );
        // Both outcomes from the start, so that a rate of failures is there
        // to alert on before the first one.
        for outcome in ["ok", "failed"] {
            drop(purges.get_or_create(&OutcomeLabels { outcome }));
        }
        let purged_items = Counter::default();
        registry.register(
            "purged_items",
            "Expired codes, tokens, grants and other records the purge removed",
            purged_items.clone(),
        );
        let purge_duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register_with_unit(
            "purge_duration",
            "How long one purge of expired items took (a slice at a time on the embedded store, requests running between)",
            Unit::Seconds,
            purge_duration.clone(),
        );
        let last_purge = Gauge::default();
        registry.register(
            "purge_last_success_timestamp_seconds",
            "Unix time the last purge of expired items finished without error (0: none yet)",
            last_purge.clone(),
        );
        Metrics(Arc::new(Handles {
            registry,
            requests,
            latency,
            grants,
            logins,
            authorize_errors,
            linking_failures,
            panics,
            audit,
            last_audit,
            linking_steps,
            app_to_app,
            purges,
            purged_items,
            purge_duration,
            last_purge,
        }))
    }

    /// Records one purge of expired items that took `took`: what it
    /// removed, or `None` when it failed; `now` stamps a success.
    pub fn purge(&self, removed: Option<u64>, took: Duration, now: UnixTime) {
        let outcome = if removed.is_some() { "ok" } else { "failed" };
        self.purges.get_or_create(&OutcomeLabels { outcome }).inc();
        self.purge_duration.observe(took.as_secs_f64());
        if let Some(removed) = removed {
            self.purged_items.inc_by(removed);
            self.last_purge.set(now);
        }
    }

    /// Counts an audit-log entry.
    pub fn audit(&self, event: &'static str, outcome: &'static str) {
        self.audit
            .get_or_create(&AuditLabels { event, outcome })
            .inc();
        if outcome == "success" {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            self.last_audit
                .get_or_create(&EventLabels { event })
                .set(now);
        }
    }

    /// Counts a step the flight recorder keeps, for `client` (a configured
    /// client id, or the recorder's unknown-client key: never grows).
    pub fn linking_step(
        &self,
        client: &str,
        step: &'static str,
        grant_type: &'static str,
        outcome: &'static str,
    ) {
        self.linking_steps
            .get_or_create(&StepLabels {
                client: client.to_owned(),
                step,
                grant_type,
                outcome,
            })
            .inc();
    }

    /// Counts a handler that panicked.
    pub fn panic(&self) {
        self.panics.inc();
    }

    /// Counts a token-endpoint outcome.
    pub fn grant(&self, grant_type: &'static str, outcome: &'static str) {
        self.grants
            .get_or_create(&GrantLabels {
                grant_type,
                outcome,
            })
            .inc();
    }

    /// Counts a failed login.
    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a refused authorization request.
    pub fn authorize_error(&self, outcome: &'static str) {
        self.authorize_errors
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts the outcome of an App-to-App `complete`.
    pub fn app_to_app(&self, outcome: &'static str) {
        self.app_to_app
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts a failed linking step by its cause.
    pub fn linking_failure(&self, cause: &'static str) {
        self.linking_failures
            .get_or_create(&CauseLabels { cause })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "failed to encode metrics");
        }
        out
    }
}

/// Middleware recording every request. Labels are static strings, so a
/// client cannot create unbounded label values with made-up paths.
pub async fn track(
    State(metrics): State<Metrics>,
    path: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_label(path.as_ref().map(MatchedPath::as_str));
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    metrics
        .requests
        .get_or_create(&HttpLabels {
            route,
            method,
            status,
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels { route })
        .observe(elapsed.as_secs_f64());
    tracing::debug!(
        route,
        method,
        status,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    response
}

fn route_label(path: Option<&str>) -> &'static str {
    const KNOWN: [&str; 16] = [
        routes::AUTHORIZE,
        routes::LOGIN,
        routes::CALLBACK,
        routes::CONSENT,
        routes::TOKEN,
        routes::REVOKE,
        routes::INTROSPECT,
        routes::METADATA,
        routes::RECIPROCAL_AUTHORIZE,
        routes::PARTNER_TOKEN,
        routes::ALEXA_ACCEPT_GRANT,
        routes::ALEXA_SKILL_EVENTS,
        routes::LINKS,
        routes::HEALTHZ,
        routes::READYZ,
        routes::METRICS,
    ];
    path.and_then(|p| KNOWN.iter().find(|k| **k == p).copied())
        .unwrap_or("other")
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn a_successful_audit_event_stamps_its_time_and_a_failure_does_not() {
        let m = Metrics::new();
        m.audit("amazon_tokens_deleted", "failure");
        assert!(
            !m.encode()
                .contains("alexa_link_audit_last_event_timestamp_seconds{")
        );
        m.audit("amazon_tokens_refreshed", "success");
        let text = m.encode();
        let line = text
            .lines()
            .find(|l| l.starts_with(r#"alexa_link_audit_last_event_timestamp_seconds{event="amazon_tokens_refreshed"}"#))
            .expect("stamped");
        let at: i64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a number");
        assert!(at > 1_700_000_000, "{line}");
    }
}
