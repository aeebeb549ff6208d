//! Logging setup. Handlers never log token, code, secret or password values:
//! request logs carry the matched route, never the URI or body.
//!
//! Two layers: the server's logs, filtered by level and in the configured
//! format, and the audit log ([`crate::audit`]), always JSON and never
//! filtered by level, so that turning logs down cannot hide a security event.

use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, fmt};

use crate::audit;
use crate::config::{LogFormat, LoggingConfig};

/// Installs the global subscriber (logs go to stderr). `RUST_LOG` wins over
/// the configured level; it does not apply to the audit log.
pub fn init(config: &LoggingConfig) {
    let filter = || {
        EnvFilter::try_from_default_env()
            .or_else(|_| EnvFilter::try_new(&config.level))
            .unwrap_or_else(|_| EnvFilter::new("info"))
    };
    let not_audit = || filter_fn(|m| m.target() != audit::TARGET);
    let logs = match config.format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .with_filter(not_audit())
            .boxed(),
        LogFormat::Text => fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .with_filter(not_audit())
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(logs)
        .with(audit_layer(std::io::stderr))
        .try_init();
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}

/// The audit log: events of [`audit::TARGET`] only, one JSON object per
/// line (the schema is in [`crate::audit`]), written to `writer`.
pub fn audit_layer<S, W>(writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_filter(Targets::new().with_target(audit::TARGET, LevelFilter::INFO))
}
