//! Prometheus metrics of the operator, served on the admin port.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of the error counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// The failing stage: resolve, apply, status.
    pub reason: String,
}

/// Labels of the write counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// The written kind.
    pub kind: String,
    /// apply, delete or status.
    pub verb: String,
}

/// Labels of the invalid-resource counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InvalidLabels {
    /// The condition reason.
    pub reason: String,
}

/// The operator's metrics.
pub struct Metrics {
    /// Reconciles run.
    pub reconciles: Counter,
    /// Failed reconciles by stage.
    pub errors: Family<ErrorLabels, Counter>,
    /// Reconciles that found an unusable resource, by reason.
    pub invalid: Family<InvalidLabels, Counter>,
    /// API writes by kind and verb.
    pub writes: Family<WriteLabels, Counter>,
    /// Reconcile duration.
    pub duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            reconciles: Counter::default(),
            errors: Family::default(),
            invalid: Family::default(),
            writes: Family::default(),
            duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        }
    }
}

impl Metrics {
    /// Registers every metric under the `alexa_link_operator` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("alexa_link_operator");
        r.register("reconciles", "Reconciles run", self.reconciles.clone());
        r.register(
            "reconcile_errors",
            "Failed reconciles by stage",
            self.errors.clone(),
        );
        r.register(
            "invalid_resources",
            "Reconciles that found an unusable resource, by condition reason",
            self.invalid.clone(),
        );
        r.register(
            "api_writes",
            "Writes sent to the API server",
            self.writes.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            self.duration.clone(),
        );
    }

    /// Counts one write.
    pub fn api_write(&self, kind: &str, verb: &str) {
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.to_owned(),
                verb: verb.to_owned(),
            })
            .inc();
    }

    /// Counts one failed reconcile.
    pub fn error(&self, reason: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Records one reconcile.
    pub fn reconciled(&self, took: Duration) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Total writes so far (for tests and the benchmark).
    pub fn total_writes(&self) -> u64 {
        // Family has no iterator; the encoder is the public way to read it.
        let mut registry = Registry::default();
        registry.register("w", "", self.writes.clone());
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            return 0;
        }
        text.lines()
            .filter(|l| l.starts_with("w_total"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }
}
