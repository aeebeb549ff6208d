//! `doctor` against the real server, with certificates from a test CA
//! (root -> intermediate -> leaf) given as extra roots: a good setup passes
//! every check, and each bad setup is named by the right check.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alexa_link_server::config::{Config, GrantType, PkcePolicy, TlsConfig, alexa_redirect_uris};
use alexa_link_server::doctor::{self, Credentials, Options, Report, Verdict};
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, Checked, TestServer, USERS, VENDOR_ID, add_partner, test_config,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const HOST: &str = "link.example.com";

/// A test CA: a root, an intermediate under it.
struct TestCa {
    root: rcgen::Certificate,
    intermediate: rcgen::Certificate,
    intermediate_key: KeyPair,
}

/// A server certificate from the test CA.
struct Leaf {
    chain_pem: String,
    leaf_only_pem: String,
    key_pem: String,
    chain_der: Vec<CertificateDer<'static>>,
    key_der: Vec<u8>,
}

impl TestCa {
    fn new() -> TestCa {
        let ca = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            p
        };
        let root_key = KeyPair::generate().expect("key");
        let root = ca("alexa-link test root")
            .self_signed(&root_key)
            .expect("root");
        let intermediate_key = KeyPair::generate().expect("key");
        let intermediate = ca("alexa-link test intermediate")
            .signed_by(&intermediate_key, &root, &root_key)
            .expect("intermediate");
        TestCa {
            root,
            intermediate,
            intermediate_key,
        }
    }

    fn root_der(&self) -> CertificateDer<'static> {
        self.root.der().clone()
    }

    /// A leaf for `names`, valid from `from` to `until` days from now.
    fn leaf(&self, names: &[&str], from: i64, until: i64) -> Leaf {
        let mut p =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("params");
        p.distinguished_name.push(DnType::CommonName, names[0]);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        p.not_before = now + time::Duration::days(from);
        p.not_after = now + time::Duration::days(until);
        let key = KeyPair::generate().expect("key");
        let leaf = p
            .signed_by(&key, &self.intermediate, &self.intermediate_key)
            .expect("leaf");
        Leaf {
            chain_pem: format!("{}{}", leaf.pem(), self.intermediate.pem()),
            leaf_only_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
            chain_der: vec![leaf.der().clone(), self.intermediate.der().clone()],
            key_der: key.serialize_der(),
        }
    }
}

/// The server on TLS with `cert_pem`, announcing `https://link.example.com`.
async fn tls_server(
    cert_pem: &str,
    key_pem: &str,
    adjust: impl FnOnce(&mut Config),
    checked: Checked,
) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.server.tls = Some(TlsConfig {
        cert_file: write(dir.path(), "tls.crt", cert_pem),
        key_file: write(dir.path(), "tls.key", key_pem),
    });
    adjust(&mut config);
    let url = Url::parse(&format!("https://{HOST}")).expect("url");
    TestServer::start_at(config, dir, Some(url), checked).await
}

fn write(dir: &Path, name: &str, contents: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

fn addr_of(server: &TestServer) -> SocketAddr {
    Url::parse(&server.base_url)
        .expect("url")
        .socket_addrs(|| None)
        .expect("addr")[0]
}

/// What the doctor is told: the client, a test user, the vendor id, the
/// console's PKCE switch on, and the test root.
fn options(ca: &TestCa, addr: SocketAddr, dir: &Path) -> Options {
    let _ = dir;
    let mut o = Options::new(Url::parse(&format!("https://{HOST}")).expect("url"));
    o.connect_to = Some(addr);
    o.extra_roots = vec![ca.root_der()];
    o.client = Some(Credentials {
        id: CLIENT_ID.into(),
        secret: CLIENT_SECRET.into(),
    });
    o.user = Some(Credentials {
        id: USERS[0].0.into(),
        secret: USERS[0].1.into(),
    });
    o.vendor_id = Some(VENDOR_ID.into());
    o.scope = Some("profile".into());
    o.console_pkce = Some(true);
    o
}

fn verdict(report: &Report, id: &str) -> Verdict {
    report
        .get(id)
        .unwrap_or_else(|| panic!("no check {id} in\n{}", report.to_table()))
        .verdict
}

/// `id` failed, and its detail says `words`.
fn assert_fails(report: &Report, id: &str, words: &str) {
    let check = report
        .get(id)
        .unwrap_or_else(|| panic!("no check {id} in\n{}", report.to_table()));
    assert_eq!(check.verdict, Verdict::Fail, "{}", report.to_table());
    assert!(
        check.detail.contains(words),
        "{id}: {:?} lacks {words:?}\n{}",
        check.detail,
        report.to_table()
    );
    assert!(check.fix.is_some(), "a failure says what to fix");
    assert!(!report.ok);
}

#[tokio::test]
async fn a_good_setup_passes_every_check() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let lwa = LwaStandIn::start().await;
    let server = tls_server(
        &leaf.chain_pem,
        &leaf.key_pem,
        |c| {
            let dir = c.server.session_key_file.parent().expect("dir").to_owned();
            add_partner(c, &dir, &lwa.token_url);
        },
        Checked::Yes,
    )
    .await;
    let mut o = options(&ca, addr_of(&server), server.dir.path());
    o.reciprocal = true;
    let report = doctor::run(&o).await;
    let table = report.to_table();
    println!("{table}");
    for check in &report.checks {
        assert_eq!(
            check.verdict,
            Verdict::Pass,
            "{}: {}\n{table}",
            check.id,
            check.detail
        );
    }
    for id in [
        "tls.port",
        "tls.handshake",
        "tls.chain",
        "tls.name",
        "tls.expiry",
        "metadata",
        "authorize.endpoint",
        "token.errors",
        "redirect.regions",
        "link.client-auth",
        "link.pkce",
        "token.expires-in",
        "token.refresh-token",
        "refresh",
        "refresh.retry",
        "reciprocal",
        "token.latency",
    ] {
        assert_eq!(verdict(&report, id), Verdict::Pass, "{id}\n{table}");
    }
    assert!(report.ok);
    // Nothing secret is ever printed.
    let json = report.to_json();
    for secret in [CLIENT_SECRET, USERS[0].1] {
        assert!(
            !json.contains(secret) && !table.contains(secret),
            "{secret} printed"
        );
    }
}

#[tokio::test]
async fn an_expired_certificate_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -100, -1);
    let server = tls_server(&leaf.chain_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "tls.expiry", "expired");
    // The chain itself is complete: only the expiry is the fault.
    assert_eq!(
        verdict(&report, "tls.chain"),
        Verdict::Pass,
        "{}",
        report.to_table()
    );
}

#[tokio::test]
async fn a_certificate_expiring_soon_is_a_warning() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -60, 10);
    let server = tls_server(&leaf.chain_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_eq!(
        verdict(&report, "tls.expiry"),
        Verdict::Warn,
        "{}",
        report.to_table()
    );
}

#[tokio::test]
async fn a_missing_intermediate_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let server = tls_server(&leaf.leaf_only_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "tls.chain", "incomplete");
    assert!(
        report
            .get("tls.chain")
            .and_then(|c| c.fix.as_deref())
            .is_some_and(|f| f.contains("full chain")),
        "{}",
        report.to_table()
    );
}

#[tokio::test]
async fn a_certificate_for_another_name_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["other.example.com"], -1, 90);
    let server = tls_server(&leaf.chain_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "tls.name", "other.example.com");
}

/// A TLS endpoint that speaks only TLS 1.3 (no HTTP behind it).
async fn tls13_only(leaf: &Leaf) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        leaf.chain_der.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone())),
    )
    .expect("cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_server_speaking_only_tls13_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let addr = tls13_only(&leaf).await;
    let report = doctor::run(&options(&ca, addr, Path::new("."))).await;
    assert_fails(&report, "tls.handshake", "only TLS 1.3");
}

/// A TLS front that answers every token request `delay` late: what a slow
/// store or network path looks like to Alexa. Plaintext to the server.
async fn slow_token_front(leaf: &Leaf, backend: SocketAddr, delay: Duration) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        leaf.chain_der.clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key_der.clone())),
    )
    .expect("cert");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut first = vec![0u8; 16 * 1024];
                let Ok(n) = tls.read(&mut first).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(backend).await else {
                    return;
                };
                if upstream.write_all(&first[..n]).await.is_err() {
                    return;
                }
                // The doctor opens a connection per token request.
                if first[..n].starts_with(b"POST /oauth/token") {
                    tokio::time::sleep(delay).await;
                }
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_token_endpoint_slower_than_alexas_budget_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path());
    // TLS ends at the front, as at an ingress.
    let server = TestServer::start_at(
        config,
        dir,
        Some(Url::parse(&format!("https://{HOST}")).expect("url")),
        Checked::Yes,
    )
    .await;
    let front = slow_token_front(
        &leaf,
        addr_of(&server),
        doctor::ALEXA_TOKEN_BUDGET + Duration::from_millis(200),
    )
    .await;
    let mut o = options(&ca, front, Path::new("."));
    // Only the endpoint checks: two token requests, each past the budget.
    o.user = None;
    let report = doctor::run(&o).await;
    assert_eq!(
        verdict(&report, "token.errors"),
        Verdict::Pass,
        "{}",
        report.to_table()
    );
    assert_fails(&report, "token.latency", "budget");
}

#[tokio::test]
async fn access_tokens_under_360_seconds_are_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    // The config check refuses this; another server (or an old version) may not.
    let server = tls_server(
        &leaf.chain_pem,
        &leaf.key_pem,
        |c| c.clients[0].access_token_lifetime_seconds = 300,
        Checked::No,
    )
    .await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "token.expires-in", "360");
}

#[tokio::test]
async fn a_token_response_without_a_refresh_token_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let server = tls_server(
        &leaf.chain_pem,
        &leaf.key_pem,
        |c| c.clients[0].grant_types = vec![GrantType::AuthorizationCode],
        Checked::Yes,
    )
    .await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "token.refresh-token", "no refresh token");
    assert_eq!(verdict(&report, "refresh"), Verdict::Skip);
}

#[tokio::test]
async fn a_missing_regions_redirect_uri_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let server = tls_server(
        &leaf.chain_pem,
        &leaf.key_pem,
        |c| {
            let [na, eu, _fe] = alexa_redirect_uris(VENDOR_ID);
            c.clients[0].alexa_vendor_id = None;
            c.clients[0].redirect_uris = vec![na, eu];
        },
        Checked::Yes,
    )
    .await;
    let report = doctor::run(&options(&ca, addr_of(&server), server.dir.path())).await;
    assert_fails(&report, "redirect.regions", "FE (alexa.amazon.co.jp)");
    let detail = &report.get("redirect.regions").expect("check").detail;
    assert!(
        !detail.contains("NA") && !detail.contains("EU"),
        "only the missing region is named: {detail}"
    );
    // The link itself (through the NA URL) still works.
    assert_eq!(verdict(&report, "link.client-auth"), Verdict::Pass);
}

#[tokio::test]
async fn pkce_on_one_side_only_is_named() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let server = tls_server(&leaf.chain_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let mut o = options(&ca, addr_of(&server), server.dir.path());
    // The console's PKCE switch is off; the server requires PKCE.
    o.console_pkce = Some(false);
    let report = doctor::run(&o).await;
    assert_fails(&report, "link.pkce", "PKCE mismatch");

    // The other way round: the server does not require it, the console is off: fine.
    let server = tls_server(
        &leaf.chain_pem,
        &leaf.key_pem,
        |c| c.clients[0].pkce = PkcePolicy::OptionalInsecure,
        Checked::Yes,
    )
    .await;
    let mut o = options(&ca, addr_of(&server), server.dir.path());
    o.console_pkce = Some(false);
    let report = doctor::run(&o).await;
    assert_eq!(
        verdict(&report, "link.pkce"),
        Verdict::Pass,
        "{}",
        report.to_table()
    );
}

/// The binary: a table for people, `--json` for CI, exit 0 or 1.
#[tokio::test]
async fn the_cli_prints_a_table_or_json_and_exits_one_on_failure() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&[HOST], -1, 90);
    let server = tls_server(&leaf.chain_pem, &leaf.key_pem, |_| {}, Checked::Yes).await;
    let dir = server.dir.path();
    let root = write(dir, "root.pem", &ca.root.pem());
    let secret = write(dir, "doctor-client-secret", CLIENT_SECRET);
    let password = write(dir, "doctor-password", USERS[0].1);
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"));
        cmd.args([
            "doctor",
            "--url",
            &format!("https://{HOST}"),
            "--connect-to",
            &addr_of(&server).to_string(),
        ])
        .arg("--ca-file")
        .arg(&root)
        .args([
            "--client-id",
            CLIENT_ID,
            "--user",
            USERS[0].0,
            "--scope",
            "profile",
        ])
        .arg("--client-secret-file")
        .arg(&secret)
        .arg("--password-file")
        .arg(&password)
        .args(extra);
        cmd
    };
    let good = tokio::task::spawn_blocking({
        let mut cmd = run(&["--vendor-id", VENDOR_ID, "--json"]);
        move || cmd.output().expect("doctor runs")
    })
    .await
    .expect("join");
    assert_eq!(
        good.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&good.stdout)
    );
    let json: serde_json::Value = serde_json::from_slice(&good.stdout).expect("--json prints JSON");
    assert_eq!(json["ok"], true);
    assert!(json["checks"].as_array().is_some_and(|c| c.len() >= 15));

    // A vendor id the client does not know: every region is missing.
    let bad = tokio::task::spawn_blocking({
        let mut cmd = run(&[
            "--vendor-id",
            "MOTHERVENDOR",
            "--redirect-uri",
            &alexa_redirect_uris(VENDOR_ID)[0],
        ]);
        move || cmd.output().expect("doctor runs")
    })
    .await
    .expect("join");
    let table = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{table}");
    assert!(table.contains("FAIL  redirect.regions"), "{table}");
    assert!(table.contains("fix: "), "{table}");
    assert!(!table.contains(CLIENT_SECRET) && !table.contains(USERS[0].1));
}
