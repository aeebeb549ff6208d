//! `alexa-link-operator`: `run` the controller, or print the `crd`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use alexa_link_operator::admin::{self, AdminState};
use alexa_link_operator::build::Capabilities;
use alexa_link_operator::build::deployment::ServerImage;
use alexa_link_operator::controller::{self, Context};
use alexa_link_operator::crd::PullPolicy;
use alexa_link_operator::leader::LeaseLock;
use alexa_link_operator::metrics::Metrics;
use alexa_link_operator::smapi::client::{
    Endpoints, LWA_TOKEN_ENDPOINT, SMAPI_ENDPOINT, SmapiClient, endpoint,
};
use alexa_link_operator::smapi::sync::Smapi;
use clap::{Parser, Subcommand};
use kube::Client;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

#[derive(Parser)]
#[command(
    version,
    about = "Runs alexa-link OAuth servers from AlexaSkillLink resources"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the AlexaSkillLink CustomResourceDefinition as YAML.
    Crd,
    /// Run the controller against the cluster of KUBECONFIG or the pod's
    /// service account.
    Run(Box<RunArgs>),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
    /// Address of the admin server (`/healthz`, `/readyz`, `/metrics`).
    #[arg(long, env = "ADMIN_LISTEN", default_value = "0.0.0.0:8081")]
    admin_listen: SocketAddr,
    /// Take a leader-election Lease before reconciling. Needed when more than
    /// one replica runs; with exactly one (`false`) no Lease is read or written.
    #[arg(long, env = "LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Namespace of the leader-election Lease (default: the client's namespace).
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "alexa-link-operator")]
    lease_name: String,
    /// This replica's identity in the Lease (default: POD_NAME or hostname).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Seconds a Lease stays valid without renewal.
    #[arg(long, default_value_t = 15)]
    lease_seconds: u64,
    /// Seconds between resyncs of a resource that reconciled fine.
    #[arg(long, default_value_t = 300)]
    resync_seconds: u64,
    /// How many resources are reconciled at once. A reconcile mostly waits
    /// on the API server, so more in flight finish sooner, at the cost of
    /// memory: see tests/operator/bench.sh for the trade at 1,000.
    #[arg(long, default_value_t = 32)]
    concurrency: u16,
    /// Server image for resources without `spec.image` (default: the
    /// release image of this operator's version).
    #[arg(long, env = "SERVER_IMAGE")]
    server_image: Option<String>,
    /// Pull policy for resources without `spec.imagePullPolicy`: Always,
    /// IfNotPresent or Never (default: Kubernetes' own).
    #[arg(long, env = "SERVER_IMAGE_PULL_POLICY")]
    server_image_pull_policy: Option<PullPolicy>,
    /// SMAPI's base URL, for tests and air-gapped setups only (default:
    /// Amazon's). https, or http on a loopback address.
    #[arg(long, env = "SMAPI_ENDPOINT", default_value = SMAPI_ENDPOINT)]
    smapi_endpoint: String,
    /// Login with Amazon's token endpoint for SMAPI tokens, for tests and
    /// air-gapped setups only (default: Amazon's).
    #[arg(long, env = "LWA_TOKEN_ENDPOINT", default_value = LWA_TOKEN_ENDPOINT)]
    lwa_token_endpoint: String,
    /// A PEM CA bundle trusted for those two endpoints besides the public
    /// roots (a stand-in's or an egress proxy's CA).
    #[arg(long, env = "SMAPI_CA_FILE")]
    smapi_ca_file: Option<std::path::PathBuf>,
    /// Seconds between read-backs of an unchanged skill's account linking
    /// (console edits are found this long after they happen, at worst).
    #[arg(long, default_value_t = 300)]
    smapi_drift_check_seconds: u64,
}

impl RunArgs {
    /// The SMAPI side the flags describe.
    fn smapi(&self) -> anyhow::Result<Smapi> {
        let endpoints = Endpoints {
            smapi: endpoint("--smapi-endpoint", &self.smapi_endpoint)?,
            lwa_token: endpoint("--lwa-token-endpoint", &self.lwa_token_endpoint)?,
        };
        let ca = match &self.smapi_ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("--smapi-ca-file {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(Smapi::new(
            SmapiClient::new(endpoints, ca.as_deref())?,
            Duration::from_secs(self.smapi_drift_check_seconds.max(1)),
        ))
    }

    /// The server image the flags name, over the built-in default.
    fn server_image(&self) -> ServerImage {
        let default = ServerImage::default();
        ServerImage {
            image: self
                .server_image
                .clone()
                .filter(|i| !i.trim().is_empty())
                .unwrap_or(default.image),
            pull_policy: self.server_image_pull_policy.or(default.pull_policy),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => {
            print!("{}", alexa_link_operator::crd_yaml());
            ExitCode::SUCCESS
        }
        Command::Run(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info,kube=warn".into()),
                )
                .init();
            let _ = rustls::crypto::ring::default_provider().install_default();
            match run(*args).await {
                Ok(code) => code,
                Err(e) => {
                    tracing::error!("{e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn pdb_v1_served(client: &Client) -> anyhow::Result<bool> {
    match client.list_api_group_resources("policy/v1").await {
        Ok(list) => Ok(list
            .resources
            .iter()
            .any(|r| r.name == "poddisruptionbudgets")),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let smapi = Arc::new(args.smapi()?);
    // Bound first: an address the operator cannot have stops it here, with
    // the reason, instead of leaving it running without its probes.
    let admin_listener = tokio::net::TcpListener::bind(args.admin_listen)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "failed to listen on the admin address {} (--admin-listen): {e}",
                args.admin_listen
            )
        })?;
    let client = Client::try_default().await?;
    let caps = Capabilities {
        pdb_v1: pdb_v1_served(&client).await?,
    };
    tracing::info!(?caps, "connected to the API server");

    let metrics = Arc::new(Metrics::default());
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let admin_state = Arc::new(AdminState {
        registry,
        ready: AtomicBool::new(false),
    });

    // One shutdown signal for everything: SIGTERM/Ctrl-C or a lost lease.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    {
        let stop_tx = stop_tx.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
        });
    }
    let admin = tokio::spawn(admin::serve(
        admin_listener,
        admin_state.clone(),
        stopped(stop_rx.clone()),
    ));
    admin_state.ready.store(true, Ordering::Relaxed);

    let identity = args.identity.clone().unwrap_or_else(|| {
        std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| format!("alexa-link-operator-{}", std::process::id()))
    });
    let lease_ns = args
        .lease_namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let duration = Duration::from_secs(args.lease_seconds.max(3));
    let lock = LeaseLock::new(
        client.clone(),
        &lease_ns,
        &args.lease_name,
        &identity,
        duration,
    );

    // Standby until we hold the lease (or are told to stop).
    if args.leader_elect {
        loop {
            if *stop_rx.borrow() {
                let _ = admin.await;
                return Ok(ExitCode::SUCCESS);
            }
            match lock.try_acquire().await {
                Ok(true) => break,
                Ok(false) => tracing::debug!("another replica leads; standing by"),
                Err(e) => tracing::warn!(error = %e, "failed to read the leader Lease"),
            }
            let mut rx = stop_rx.clone();
            let _ = tokio::time::timeout(duration / 3, rx.changed()).await;
        }
        tracing::info!(%identity, lease = %args.lease_name, "leading");
    } else {
        tracing::info!(%identity, "leader election off; reconciling");
    }

    // Renew; on losing the lease stop at once, so two replicas never write.
    let lost = Arc::new(AtomicBool::new(false));
    let renew = {
        let (lock, stop_tx, lost, mut rx) =
            (lock.clone(), stop_tx.clone(), lost.clone(), stop_rx.clone());
        let leader_elect = args.leader_elect;
        tokio::spawn(async move {
            if !leader_elect {
                return;
            }
            let mut last_ok = tokio::time::Instant::now();
            loop {
                if tokio::time::timeout(duration / 3, rx.changed())
                    .await
                    .is_ok()
                {
                    return;
                }
                match lock.try_acquire().await {
                    Ok(true) => last_ok = tokio::time::Instant::now(),
                    Ok(false) => {
                        tracing::error!("lost the leader Lease to another replica");
                        lost.store(true, Ordering::Relaxed);
                        let _ = stop_tx.send(true);
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "failed to renew the leader Lease");
                        if last_ok.elapsed() >= duration * 2 / 3 {
                            lost.store(true, Ordering::Relaxed);
                            let _ = stop_tx.send(true);
                            return;
                        }
                    }
                }
            }
        })
    };

    let mut ctx = Context::new(client.clone(), metrics.clone(), caps);
    ctx.resync = Duration::from_secs(args.resync_seconds.max(10));
    ctx.concurrency = args.concurrency.max(1);
    ctx.server_image = args.server_image();
    ctx.smapi = smapi;
    if args.smapi_endpoint != SMAPI_ENDPOINT || args.lwa_token_endpoint != LWA_TOKEN_ENDPOINT {
        tracing::warn!(smapi = %args.smapi_endpoint, lwa = %args.lwa_token_endpoint, "SMAPI endpoints overridden (tests and air-gapped setups only)");
    }
    tracing::info!(image = %ctx.server_image.image, pull_policy = ?ctx.server_image.pull_policy, "default server image");
    controller::run(
        Arc::new(ctx),
        args.namespace.clone(),
        stopped(stop_rx.clone()),
    )
    .await;
    let _ = stop_tx.send(true);
    let _ = renew.await;
    if args.leader_elect
        && !lost.load(Ordering::Relaxed)
        && let Err(e) = lock.release().await
    {
        tracing::warn!(error = %e, "failed to release the leader Lease");
    }
    let _ = admin.await;
    tracing::info!(writes = metrics.total_writes(), "stopped");
    Ok(if lost.load(Ordering::Relaxed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let argv = ["alexa-link-operator", "run"].iter().chain(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(a) => Ok(*a),
            Command::Crd => panic!("parsed as crd"),
        }
    }

    #[test]
    fn server_image_flags_name_the_default_image() {
        let a = run_args(&[
            "--server-image",
            "localhost/alexa-link:dev",
            "--server-image-pull-policy",
            "Never",
        ])
        .expect("parses");
        assert_eq!(
            a.server_image(),
            ServerImage {
                image: "localhost/alexa-link:dev".into(),
                pull_policy: Some(PullPolicy::Never),
            }
        );
        let a = run_args(&["--server-image-pull-policy", "IfNotPresent"]).expect("parses");
        assert_eq!(a.server_image().image, ServerImage::default().image);
        assert_eq!(a.server_image().pull_policy, Some(PullPolicy::IfNotPresent));
    }

    #[test]
    fn without_flags_the_built_in_image_stays() {
        // Only when the environment does not set them (CI may not).
        if std::env::var_os("SERVER_IMAGE").is_some()
            || std::env::var_os("SERVER_IMAGE_PULL_POLICY").is_some()
        {
            return;
        }
        let a = run_args(&[]).expect("parses");
        assert_eq!(a.server_image(), ServerImage::default());
    }

    #[test]
    fn an_unknown_pull_policy_is_a_clear_error() {
        let e = run_args(&["--server-image-pull-policy", "Sometimes"])
            .err()
            .expect("rejected");
        assert!(
            e.to_string().contains("Always, IfNotPresent or Never"),
            "{e}"
        );
    }
}
