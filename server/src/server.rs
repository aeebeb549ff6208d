//! Binding the listeners and serving until shutdown.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;

use crate::admission::{Admission, Limits};
use crate::app::{AppState, StartupError};
use crate::config::ServerConfig;

/// How often the TLS files are checked for a new certificate.
const TLS_POLL: Duration = Duration::from_secs(10);
/// How often expired codes and tokens are deleted from the store.
const PURGE_EVERY: Duration = Duration::from_secs(300);

/// Bound, not yet serving, sockets.
pub struct Listeners {
    public: TcpListener,
    admin: TcpListener,
}

impl Listeners {
    /// Binds the public and admin addresses.
    pub fn bind(config: &ServerConfig) -> Result<Listeners, StartupError> {
        let bind = |addr: SocketAddr| {
            let l =
                TcpListener::bind(addr).map_err(|source| StartupError::Bind { addr, source })?;
            l.set_nonblocking(true)
                .map_err(|source| StartupError::Bind { addr, source })?;
            Ok::<_, StartupError>(l)
        };
        Ok(Listeners {
            public: bind(config.listen)?,
            admin: bind(config.admin_listen)?,
        })
    }

    /// The public address actually bound (useful with port 0).
    pub fn public_addr(&self) -> SocketAddr {
        self.public
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The admin address actually bound.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}

/// A serving server.
pub struct Running {
    /// Public address.
    pub public_addr: SocketAddr,
    /// Admin address.
    pub admin_addr: SocketAddr,
    public: Handle,
    admin: Handle,
    servers: Vec<tokio::task::JoinHandle<()>>,
    purger: tokio::task::JoinHandle<()>,
}

/// A client must send its whole request head within this, or the
/// connection is closed: partial headers must not hold a connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Connection settings of the public listener against slow clients: the
/// header-read timeout (HTTP/1.1) and the HTTP/2 keep-alive timeout.
fn harden(builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10));
}

/// Starts serving `app` on `listeners`.
pub async fn serve(app: AppState, listeners: Listeners) -> Result<Running, StartupError> {
    let public_addr = listeners.public_addr();
    let admin_addr = listeners.admin_addr();
    let public = Handle::new();
    let admin = Handle::new();
    let mut tasks = Vec::new();

    let router = app
        .public_router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let limits = Limits::new(&app.config.server.connections);
    match &app.config.server.tls {
        Some(tls) => {
            let rustls = crate::tls::load_and_watch(tls, TLS_POLL).await?;
            let mut server = axum_server::from_tcp_rustls(listeners.public, rustls)
                .map(|tls| Admission::new(tls, limits, HEADER_READ_TIMEOUT))
                .handle(public.clone());
            harden(server.http_builder());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.serve(router).await {
                    tracing::error!(error = %e, "public listener failed");
                }
            }));
        }
        None => {
            let mut server = axum_server::from_tcp(listeners.public)
                .acceptor(Admission::new(DefaultAcceptor, limits, HEADER_READ_TIMEOUT))
                .handle(public.clone());
            harden(server.http_builder());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server.serve(router).await {
                    tracing::error!(error = %e, "public listener failed");
                }
            }));
        }
    }
    let admin_router = app.admin_router().into_make_service();
    let admin_server = axum_server::from_tcp(listeners.admin).handle(admin.clone());
    tasks.push(tokio::spawn(async move {
        if let Err(e) = admin_server.serve(admin_router).await {
            tracing::error!(error = %e, "admin listener failed");
        }
    }));

    let app_for_purge = app.clone();
    let purger = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(PURGE_EVERY);
        // A purge that outlasts the period (a large DynamoDB table) is
        // followed by a pause of the period, not by the missed ticks at once.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            purge(&app_for_purge).await;
        }
    });

    Ok(Running {
        public_addr,
        admin_addr,
        public,
        admin,
        servers: tasks,
        purger,
    })
}

/// Deletes what expired from the store, once, and says so in the log and
/// the metrics.
async fn purge(app: &AppState) {
    let started = Instant::now();
    let purged = app.store.purge_expired(app.clock.now()).await;
    let took = started.elapsed();
    match &purged {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            millis = took.as_millis() as u64,
            "purged expired codes and tokens"
        ),
        Err(e) => tracing::warn!(error = %e, "purge of expired items failed"),
    }
    app.metrics.purge(purged.ok(), took, app.clock.now());
}

impl Running {
    /// Stops accepting, lets in-flight requests finish for up to `grace`,
    /// then stops.
    pub async fn shutdown(self, grace: Duration) {
        self.purger.abort();
        self.public.graceful_shutdown(Some(grace));
        self.admin.graceful_shutdown(Some(grace));
        for server in self.servers {
            let _ = server.await;
        }
    }
}
