//! The `alexa-link-server` binary.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use alexa_link_server::app::{AppState, open_store};
use alexa_link_server::clock::Clock;
use alexa_link_server::config::Config;
use alexa_link_server::dev::{self, DEMO_USERS, DevOptions};
use alexa_link_server::server::{self, Listeners};
use alexa_link_server::{routes, telemetry};
use clap::{Parser, Subcommand};
use url::Url;

/// jemalloc, not the C library's allocator. A request allocates and frees
/// a few dozen small buffers across the runtime's workers and the store
/// thread. The container image is a static musl build, and on musl's
/// allocator its bench server answered 39% fewer rotating refreshes and
/// 56% fewer sealed `client_credentials` at 50 connections than with
/// jemalloc; on glibc jemalloc saves 5-12% of the instructions per request,
/// for about 1 MiB more idle RSS (README, "Benchmarks"). Its settings come
/// from `_RJEM_MALLOC_CONF`; `--no-default-features` builds without it.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// OAuth 2.0 server for Alexa skill (mutual) account linking.
#[derive(Parser, Debug)]
#[command(name = "alexa-link-server", version, about)]
struct Cli {
    /// The YAML config file.
    #[arg(long, short, env = "ALEXA_LINK_CONFIG", conflicts_with = "dev")]
    config: Option<PathBuf>,
    /// Run a demo: generated config on loopback, demo users and client,
    /// embedded store in a temporary directory. Not for production.
    #[arg(long)]
    dev: bool,
    /// With --dev: keep the store in this directory across restarts.
    #[arg(long, requires = "dev")]
    data_dir: Option<PathBuf>,
    /// With --dev: the public URL, when a tunnel or proxy ends TLS in front.
    #[arg(long, requires = "dev")]
    public_url: Option<Url>,
    /// Public listen address (overrides the config).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Public port on the configured (or loopback, with --dev) address.
    #[arg(long, conflicts_with = "listen")]
    port: Option<u16>,
    /// Admin listen address for /healthz, /readyz, /metrics.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Validate the config and exit.
    #[arg(long, requires = "config")]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read a password on stdin and print its argon2id hash for a users file.
    HashPassword,
    /// Check a linking server as Alexa will use it (TLS, endpoints, a whole
    /// link with a test user) and say what to fix. Exit 1 when Alexa would fail.
    Doctor(Box<DoctorArgs>),
    /// Revoke every grant of a user (all their links, with tokens) and
    /// delete their stored Amazon tokens, in the store --config names. A
    /// running server with the embedded store holds its file: use its admin
    /// port's `POST /revoke-user` instead.
    RevokeUser {
        /// The user id grants are stored under (`id` in a users file,
        /// `ldap:<entryUUID>`, `oidc:<issuerId>:<sub>`).
        user_id: String,
    },
    /// Delete every DynamoDB item this deployment wrote (those whose `lk`
    /// is `store.dynamodb.owner` in --config), a page at a time; items of
    /// other owners sharing the table are never touched. Safe to run again
    /// after an interruption: it deletes what is left. Prints one JSON line
    /// of progress per page; exit 0 once none of the owner's items is left.
    /// Stop the deployment's servers first, or they may write new items.
    PurgeItems {
        /// Items scanned per request (the bound on each step's work).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(i32).range(1..=10_000))]
        page_size: i32,
        /// Stop after this many pages; exit 3 when items may be left (run
        /// again to continue).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        max_pages: Option<u64>,
    },
}

#[derive(clap::Args, Debug)]
struct DoctorArgs {
    /// The public URL given to Alexa, e.g. https://link.example.com.
    #[arg(long)]
    url: Url,
    /// Connect to ADDR:PORT instead of resolving the URL's host (a Service
    /// IP, a tunnel); TLS and HTTP still use the host name.
    #[arg(long)]
    connect_to: Option<SocketAddr>,
    /// A PEM file of extra roots to trust (a private CA under test). Alexa
    /// itself trusts only public roots.
    #[arg(long = "ca-file")]
    ca_files: Vec<PathBuf>,
    /// The Alexa client's id, as in the console ("Your Client ID").
    #[arg(long)]
    client_id: Option<String>,
    /// A file holding the client's secret.
    #[arg(
        long,
        env = "ALEXA_LINK_DOCTOR_CLIENT_SECRET_FILE",
        requires = "client_id"
    )]
    client_secret_file: Option<PathBuf>,
    /// A test user who may log in; with --password-file, the doctor links.
    #[arg(long)]
    user: Option<String>,
    /// A file holding the test user's password.
    #[arg(long, env = "ALEXA_LINK_DOCTOR_PASSWORD_FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// The skill's vendor id: checks Alexa's three regional redirect URLs.
    #[arg(long)]
    vendor_id: Option<String>,
    /// The redirect URI to link with (default: the NA one of --vendor-id).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// The scopes, space-separated, as in the console.
    #[arg(long)]
    scope: Option<String>,
    /// The Alexa console's PKCE switch, to check that it matches the server.
    #[arg(long, value_parser = ["on", "off"])]
    pkce: Option<String>,
    /// Also check the reciprocal (mutual linking) endpoint.
    #[arg(long)]
    reciprocal: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The token endpoint's time budget in milliseconds (Alexa's is 4500).
    #[arg(long, default_value_t = 4500)]
    budget_ms: u64,
    /// How long any single call may take, in seconds.
    #[arg(long, default_value_t = 10)]
    timeout_seconds: u64,
}

fn main() -> ExitCode {
    let started = Instant::now();
    let mut cli = Cli::parse();
    // One TLS provider for the whole process (server and LWA client): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (doctor_args, revoke, purge) = match cli.command.take() {
        Some(Command::HashPassword) => return hash_password(),
        Some(Command::Doctor(args)) => (Some(args), None, None),
        Some(Command::RevokeUser { user_id }) => (None, Some(user_id), None),
        Some(Command::PurgeItems {
            page_size,
            max_pages,
        }) => (None, None, Some((page_size, max_pages))),
        None => (None, None, None),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(args) = doctor_args {
        return runtime.block_on(doctor(*args));
    }
    let done = match (revoke, purge) {
        (Some(user_id), _) => runtime.block_on(revoke_user(cli.config.as_deref(), &user_id)),
        (None, Some((page_size, max_pages))) => {
            match runtime.block_on(purge_items(cli.config.as_deref(), page_size, max_pages)) {
                Ok(false) => return ExitCode::from(PURGE_INCOMPLETE),
                other => other.map(|_| ()),
            }
        }
        (None, None) => runtime.block_on(run(cli, started)),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, started: Instant) -> anyhow::Result<()> {
    let mut dev_env = None;
    let mut config = if cli.dev {
        let listen = cli
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], cli.port.unwrap_or(8080))));
        let admin_listen = cli.admin_listen.unwrap_or_else(|| {
            let port = match listen.port() {
                0 => 0,
                p => p.wrapping_add(1010),
            };
            SocketAddr::from(([127, 0, 0, 1], port))
        });
        let env = dev::environment(&DevOptions {
            listen,
            admin_listen,
            data_dir: cli.data_dir.clone(),
            public_url: cli.public_url.clone(),
        })?;
        let config = env.config.clone();
        dev_env = Some(env);
        config
    } else {
        let Some(path) = &cli.config else {
            anyhow::bail!("give a config file with --config FILE, or run the demo with --dev");
        };
        let mut config = Config::load(path)?;
        if let Some(listen) = cli.listen {
            config.server.listen = listen;
        }
        if let Some(port) = cli.port {
            config.server.listen.set_port(port);
        }
        if let Some(admin) = cli.admin_listen {
            config.server.admin_listen = admin;
        }
        config
            .validate()
            .map_err(alexa_link_server::config::ConfigError::Invalid)?;
        if cli.check {
            println!("{}: valid", path.display());
            return Ok(());
        }
        config
    };
    telemetry::init(&config.logging);

    let listeners = Listeners::bind(&config.server)?;
    if dev_env.is_some() && cli.public_url.is_none() {
        // With --port 0 the real port is known only now.
        config.server.public_url = Url::parse(&format!("http://{}", listeners.public_addr()))?;
    }
    let store = open_store(&config.store).await?;
    let app = AppState::new(config, store, Clock::default())?;
    let running = server::serve(app.clone(), listeners).await?;
    if let Some(env) = &dev_env {
        print_demo_banner(&app, env, running.admin_addr);
    }
    tracing::info!(
        public = %running.public_addr,
        admin = %running.admin_addr,
        tls = app.config.server.tls.is_some(),
        startup_ms = started.elapsed().as_millis() as u64,
        "alexa-link-server ready"
    );

    shutdown_signal().await;
    tracing::info!("shutting down; finishing in-flight requests");
    running.shutdown(Duration::from_secs(20)).await;
    drop(dev_env);
    Ok(())
}

fn print_demo_banner(app: &AppState, env: &dev::DevEnvironment, admin: SocketAddr) {
    let base = &app.config.server.public_url;
    let client = &app.config.clients[0];
    let line = "=".repeat(78);
    println!("{line}");
    println!("  alexa-link-server DEMO MODE: demo users, demo client, throwaway keys.");
    println!("  NOT FOR PRODUCTION. Run with --config FILE for a real deployment.");
    println!("{line}");
    println!("  Endpoints (paste into the Alexa developer console):");
    println!(
        "    Authorization URI:          {}",
        routes::url(base, routes::AUTHORIZE)
    );
    println!(
        "    Access Token URI:           {}",
        routes::url(base, routes::TOKEN)
    );
    println!(
        "    Reciprocal Access Token URL: {}",
        routes::url(base, routes::RECIPROCAL_AUTHORIZE)
    );
    println!(
        "    Partner token (your app):   {}",
        routes::url(base, routes::PARTNER_TOKEN)
    );
    println!(
        "    (the last two need a Login with Amazon partner: see the README, \"Mutual account linking\")"
    );
    println!(
        "    Metadata:                   {}",
        routes::url(base, routes::METADATA)
    );
    println!("  Demo client:");
    println!("    Client ID:     {}", client.client_id);
    println!("    Client secret: {}", env.client_secret);
    println!("    Redirect URIs:");
    for uri in client.effective_redirect_uris() {
        println!("      {uri}");
    }
    println!(
        "    Scopes: {}   PKCE: S256 required",
        client.scopes.join(" ")
    );
    println!("  Demo logins:");
    for (user, password, role) in DEMO_USERS {
        println!("    {user} / {password}   ({role})");
    }
    println!(
        "  Admin: http://{admin}{}  http://{admin}{}",
        routes::READYZ,
        routes::METRICS
    );
    match &app.config.store {
        alexa_link_server::config::StoreConfig::Embedded(e) => {
            println!("  Store: {}", e.path.display());
        }
        alexa_link_server::config::StoreConfig::Dynamodb(d) => {
            println!("  Store: DynamoDB table {}", d.table_name);
        }
    }
    println!("{line}");
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn doctor(args: DoctorArgs) -> ExitCode {
    let options = match doctor_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let report = alexa_link_server::doctor::run(&options).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The doctor's options from its flags: secrets and roots read from files.
fn doctor_options(args: &DoctorArgs) -> anyhow::Result<alexa_link_server::doctor::Options> {
    use alexa_link_server::doctor::{Credentials, Options};
    let read_secret = |path: &PathBuf, what: &str| -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("failed to read the {what} file {}: {e}", path.display())
        })?;
        Ok(text.trim_end_matches(['\r', '\n']).to_owned())
    };
    let mut options = Options::new(args.url.clone());
    options.connect_to = args.connect_to;
    for path in &args.ca_files {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("failed to read {}: {e}", path.display()))?;
        let certs = rustls_pemfile::certs(&mut pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{} is not PEM: {e}", path.display()))?;
        anyhow::ensure!(!certs.is_empty(), "{} holds no certificate", path.display());
        options.extra_roots.extend(certs);
    }
    options.client = match (&args.client_id, &args.client_secret_file) {
        (Some(id), Some(file)) => Some(Credentials {
            id: id.clone(),
            secret: read_secret(file, "client secret")?,
        }),
        (Some(id), None) => Some(Credentials {
            id: id.clone(),
            secret: String::new(),
        }),
        _ => None,
    };
    options.user = match (&args.user, &args.password_file) {
        (Some(user), Some(file)) => Some(Credentials {
            id: user.clone(),
            secret: read_secret(file, "password")?,
        }),
        _ => None,
    };
    options.vendor_id = args.vendor_id.clone();
    options.redirect_uri = args.redirect_uri.clone();
    options.scope = args.scope.clone();
    options.console_pkce = args.pkce.as_deref().map(|p| p == "on");
    options.reciprocal = args.reciprocal;
    options.budget = Duration::from_millis(args.budget_ms);
    options.timeout = Duration::from_secs(args.timeout_seconds.max(1));
    Ok(options)
}

async fn revoke_user(config: Option<&std::path::Path>, user_id: &str) -> anyhow::Result<()> {
    let Some(path) = config else {
        anyhow::bail!("give the server's config file with --config FILE");
    };
    let config = Config::load(path)?;
    let store = open_store(&config.store).await.map_err(|e| {
        anyhow::anyhow!(
            "{e} (a running server holds an embedded store's file: use its admin port, POST {} with user_id)",
            routes::REVOKE_USER
        )
    })?;
    let partners: Vec<String> = config.partners.iter().map(|p| p.id.clone()).collect();
    // No log subscriber here: stdout carries the JSON answer alone. The
    // admin port's `POST /revoke-user` writes the audit lines.
    let revoked = alexa_link_server::deprovision::revoke_user(
        store.as_ref(),
        &alexa_link_server::metrics::Metrics::new(),
        &partners,
        user_id,
        Clock::default().now(),
    )
    .await?;
    println!("{}", serde_json::to_string(&revoked)?);
    Ok(())
}

/// `purge-items --max-pages` stopped before the end of the table.
const PURGE_INCOMPLETE: u8 = 3;

/// Whether the purge completed.
async fn purge_items(
    config: Option<&std::path::Path>,
    page_size: i32,
    max_pages: Option<u64>,
) -> anyhow::Result<bool> {
    let Some(path) = config else {
        anyhow::bail!("give the server's config file with --config FILE");
    };
    let config = Config::load(path)?;
    let alexa_link_server::config::StoreConfig::Dynamodb(dynamodb) = &config.store else {
        anyhow::bail!(
            "purge-items deletes DynamoDB items; this config's store is embedded (delete its file)"
        );
    };
    let Some(owner) = &dynamodb.owner else {
        anyhow::bail!(
            "store.dynamodb.owner is not set: nothing tells this deployment's items from another's"
        );
    };
    let store = alexa_link_server::store::dynamodb::DynamoStore::client_only(dynamodb).await?;
    // stdout: one JSON line per page, the last one with "complete": true.
    let done = store
        .purge_owner(owner, page_size, max_pages, |p| {
            if let Ok(line) = serde_json::to_string(p) {
                println!("{line}");
            }
        })
        .await?;
    eprintln!(
        "deleted {} items of {owner} from table {} ({} scanned; {} items without an owner left alone)",
        done.deleted, dynamodb.table_name, done.scanned, done.unowned
    );
    if !done.complete {
        eprintln!("stopped after {} pages: run again to continue", done.pages);
    }
    Ok(done.complete)
}

fn hash_password() -> ExitCode {
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        eprintln!("error: failed to read the password from stdin: {e}");
        return ExitCode::FAILURE;
    }
    let password = input.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        eprintln!("error: the password is empty");
        return ExitCode::FAILURE;
    }
    println!(
        "{}",
        alexa_link_server::identity::password::hash_argon2(password)
    );
    ExitCode::SUCCESS
}
