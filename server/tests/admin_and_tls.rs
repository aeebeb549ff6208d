//! The admin port, TLS with certificate reload, and start-up errors.

use std::sync::Arc;
use std::time::Duration;

use alexa_link_server::config::TlsConfig;
use alexa_link_server::testing::{ClientAuth, TestServer, USERS, link, test_config};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let server = TestServer::start().await;
    link(&server, USERS[0], ClientAuth::Basic).await;
    let _ = reqwest::Client::new()
        .post(server.url("/oauth/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .expect("send");
    let get = |path: &str| reqwest::get(format!("{}{path}", server.admin_url));
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    assert_eq!(get("/readyz").await.expect("readyz").status(), 200);
    let metrics = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for expected in [
        r#"alexa_link_http_requests_total{route="/oauth/token",method="POST",status="200"} 1"#,
        r#"alexa_link_oauth_grants_total{grant_type="authorization_code",outcome="success"} 1"#,
        r#"alexa_link_oauth_grants_total{grant_type="refresh_token",outcome="invalid_client"} 1"#,
        r#"alexa_link_http_request_duration_seconds_bucket{le="#,
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }
    // The public port does not serve admin paths.
    assert_eq!(
        reqwest::get(server.url("/metrics"))
            .await
            .expect("get")
            .status(),
        404
    );
}

fn write_cert(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), name.to_owned()])
        .expect("cert");
    let cert_path = dir.join("tls.crt");
    let key_path = dir.join("tls.key");
    // Write to temporary names and rename, as Kubernetes swaps Secret files.
    std::fs::write(dir.join("tls.crt.new"), cert.cert.pem()).expect("write");
    std::fs::write(dir.join("tls.key.new"), cert.key_pair.serialize_pem()).expect("write");
    std::fs::rename(dir.join("tls.crt.new"), &cert_path).expect("rename");
    std::fs::rename(dir.join("tls.key.new"), &key_path).expect("rename");
    (cert_path, key_path, cert.cert.der().to_vec())
}

/// A TLS client that accepts any certificate (the test checks which one).
fn connector() -> tokio_rustls::TlsConnector {
    connector_offering(&[])
}

/// [`connector`], offering these ALPN protocols.
fn connector_offering(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    #[derive(Debug)]
    struct AcceptAny;
    impl rustls::client::danger::ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: rustls::pki_types::UnixTime,
        ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn verify_tls13_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
        }
        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(AcceptAny))
    .with_no_client_auth();
    let mut config = config;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type Tls = tokio_rustls::client::TlsStream<TcpStream>;

async fn connect(addr: &str) -> Tls {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    connector()
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake")
}

/// Handshakes and returns the certificate the server presented.
async fn presented_cert(addr: &str) -> Vec<u8> {
    let tls = connect(addr).await;
    tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec()
}

/// One HTTP/1.1 keep-alive request on an open connection; returns the status.
async fn request_on(tls: &mut Tls) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(
        b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: localhost\r\n\r\n",
    )
    .await
    .expect("write on the open connection");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tls
            .read(&mut chunk)
            .await
            .expect("read on the open connection");
        assert!(n > 0, "the server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().expect("length"))
                })
                .expect("content-length");
            if buf.len() >= end + 4 + length {
                return text[9..12].parse().expect("status");
            }
        }
    }
}

#[tokio::test]
async fn tls_certificate_is_reloaded_when_its_files_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file, first) = write_cert(dir.path(), "first.example");
    let mut config = test_config(dir.path());
    config.server.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    let server = TestServer::start_config(config, dir).await;
    let addr = server.base_url.trim_start_matches("https://").to_owned();
    assert_eq!(presented_cert(&addr).await, first);
    let mut established = connect(&addr).await;
    assert_eq!(request_on(&mut established).await, 200);

    let (_, _, second) = write_cert(server.dir.path(), "second.example");
    // The watcher polls every 10 s; wait for the swap, bounded.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    loop {
        if presented_cert(&addr).await == second {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "certificate was not reloaded"
        );
        // Kept in use: an idle keep-alive connection is closed after the
        // header-read timeout (10 s), which is not what this checks.
        assert_eq!(request_on(&mut established).await, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The connection made before the swap was not dropped.
    assert_eq!(request_on(&mut established).await, 200);
    // Broken material is ignored; the last good certificate stays.
    std::fs::write(server.dir.path().join("tls.crt"), "not a certificate").expect("write");
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(presented_cert(&addr).await, second);
}

#[test]
fn the_binary_refuses_an_invalid_config_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.clients[0].access_token_lifetime_seconds = 60;
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config.to_yaml()).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("clients[0].accessTokenLifetimeSeconds"),
        "{stderr}"
    );
    assert!(stderr.contains("360"), "{stderr}");

    std::fs::write(&path, config.to_yaml().replace("clientId:", "clientIdd:")).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown field `clientIdd`"), "{stderr}");
}

#[test]
fn the_binary_refuses_a_short_session_key_and_missing_secrets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    std::fs::write(&config.server.session_key_file, "short").expect("write");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config.to_yaml()).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
        .args(["--config".as_ref(), path.as_os_str()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 random bytes"));

    config.server.session_key_file = dir.path().join("missing-key");
    std::fs::write(&path, config.to_yaml()).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
        .args(["--config".as_ref(), path.as_os_str()])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-key"));
}

/// The binary allocates with jemalloc (the default `jemalloc` feature), and
/// reads jemalloc's settings from `_RJEM_MALLOC_CONF` as the README says:
/// `stats_print` has it print its statistics at exit.
#[cfg(feature = "jemalloc")]
#[test]
fn the_binary_runs_on_jemalloc_and_takes_its_settings() {
    let run = |conf: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"));
        command.arg("--version").env_remove("_RJEM_MALLOC_CONF");
        if let Some(conf) = conf {
            command.env("_RJEM_MALLOC_CONF", conf);
        }
        let out = command.output().expect("run");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let stats = run(Some("stats_print:true"));
    assert!(stats.contains("Begin jemalloc statistics"), "{stats}");
    // Not a line of them without the setting.
    assert!(!run(None).contains("jemalloc"));
}

/// Over https every answer tells browsers to keep to https (HSTS); a
/// plain-HTTP server (loopback, or TLS ended elsewhere) sends no such header.
#[tokio::test]
async fn https_answers_carry_hsts_and_plain_http_ones_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file, _) = write_cert(dir.path(), "link.example");
    let mut config = test_config(dir.path());
    config.server.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    let server = TestServer::start_config(config, dir).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("client");
    for path in [
        "/.well-known/oauth-authorization-server",
        "/oauth/token",
        "/nope",
    ] {
        let response = client.get(server.url(path)).send().await.expect("send");
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }

    let plain = TestServer::start().await;
    let response = client
        .get(plain.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("send");
    assert!(!response.headers().contains_key("strict-transport-security"));
}

/// TLS handshakes in progress are capped: clients that connect and never
/// finish a handshake hold at most `maxTlsHandshakes` of them, a further
/// connection is closed at once, and a place frees when one gives up. ALPN
/// offers HTTP/1.1 only, and the HTTP/2 preface is refused over TLS as on
/// plain HTTP.
#[tokio::test]
async fn stalled_tls_handshakes_are_capped_and_http2_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file, _) = write_cert(dir.path(), "link.example");
    let mut config = test_config(dir.path());
    config.server.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    config.server.connections.max_tls_handshakes = 3;
    let server = TestServer::start_config(config, dir).await;
    let addr = server.base_url.trim_start_matches("https://").to_owned();
    let closed_soon = async |stream: &mut TcpStream| {
        let mut buf = [0u8; 16];
        matches!(
            tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    };
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(TcpStream::connect(&addr).await.expect("connect"));
    }
    let mut fourth = TcpStream::connect(&addr).await.expect("connect");
    assert!(closed_soon(&mut fourth).await, "over the handshake cap");
    stalled.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut tls = connect(&addr).await;
    assert_eq!(request_on(&mut tls).await, 200, "a place came free");

    let mut h2 = connect(&addr).await;
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), h2.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0) | Err(_))),
        "HTTP/2 without ALPN h2 is refused: {read:?}"
    );

    // ALPN offers HTTP/1.1 only: a client offering h2 first gets HTTP/1.1.
    let tcp = TcpStream::connect(&addr).await.expect("connect");
    let mut tls = connector_offering(&[b"h2", b"http/1.1"])
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(request_on(&mut tls).await, 200);
}

/// `alexa-link-server revoke-user` ends every link of a user in the store
/// the config names (here an embedded store no server holds any more).
#[tokio::test]
async fn the_revoke_user_command_ends_a_users_links() {
    let volume = tempfile::tempdir().expect("store volume");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.store = alexa_link_server::config::StoreConfig::Embedded(
        alexa_link_server::config::EmbeddedStoreConfig::at(volume.path().join("store.redb")),
    );
    let config_file = volume.path().join("server.yaml");
    std::fs::write(&config_file, config.to_yaml()).expect("write config");
    let server = TestServer::start_config(config, dir).await;
    link(&server, USERS[0], ClientAuth::Basic).await;
    link(&server, USERS[1], ClientAuth::Basic).await;
    server.stop().await;

    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
            .arg("--config")
            .arg(&config_file)
            .args(["revoke-user", "user-ann"])
            .output()
            .expect("run")
    };
    // The stopped server's writer thread lets go of the file shortly.
    let mut out = run();
    for _ in 0..50 {
        if out.status.success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        out = run();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(answer["user_id"], "user-ann");
    assert_eq!(answer["grants_revoked"], 1, "{answer}");

    let store =
        alexa_link_server::store::embedded::EmbeddedStore::open(&volume.path().join("store.redb"))
            .expect("open");
    let now = alexa_link_server::clock::Clock::default().now();
    use alexa_link_server::store::Store as _;
    assert!(
        store
            .list_user_grants("user-ann", now)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store
            .list_user_grants("user-bob", now)
            .await
            .expect("list")
            .len(),
        1
    );
}

/// Over https the cookies are `__Host-` cookies (Secure, Path=/, no
/// Domain), so a sibling host cannot plant its own; and a browser that
/// enforces those rules still links.
#[tokio::test]
async fn https_cookies_are_host_prefixed_and_the_flow_still_works() {
    use alexa_link_server::testing::{Pkce, authorize_url, hidden_field, location_params, param};
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert_file, key_file, _) = write_cert(dir.path(), "link.example");
    let mut config = test_config(dir.path());
    config.server.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    let server = TestServer::start_config(config, dir).await;
    let browser = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = browser
        .get(authorize_url(&server, &Pkce::new(), "st", "profile"))
        .send()
        .await
        .expect("authorize");
    let set: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii").to_owned())
        .collect();
    assert!(!set.is_empty());
    for cookie in &set {
        assert!(cookie.starts_with("__Host-alexa_link_"), "{cookie}");
        assert!(cookie.contains("; Secure"), "{cookie}");
        assert!(
            cookie.contains("; Path=/;") || cookie.ends_with("; Path=/"),
            "{cookie}"
        );
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }
    let html = page.text().await.expect("html");
    let (user, password) = USERS[0];
    let login = browser
        .post(server.url("/oauth/login"))
        .form(&[
            ("request", hidden_field(&html, "request").expect("request")),
            ("csrf", hidden_field(&html, "csrf").expect("csrf")),
            ("username", user.to_owned()),
            ("password", password.to_owned()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 303);
    let location = login.headers()["location"].to_str().expect("location");
    let consent = browser
        .get(server.url(location))
        .send()
        .await
        .expect("consent page");
    assert_eq!(consent.status(), 200, "signed in over https");
    let html = consent.text().await.expect("html");
    let allowed = browser
        .post(server.url("/oauth/consent"))
        .form(&[
            ("request", hidden_field(&html, "request").expect("request")),
            ("csrf", hidden_field(&html, "csrf").expect("csrf")),
            ("decision", "allow".to_owned()),
        ])
        .send()
        .await
        .expect("consent");
    assert_eq!(allowed.status(), 303);
    let params = location_params(&allowed);
    assert!(param(&params, "code").is_some());
    assert_eq!(param(&params, "iss"), Some(server.base_url.as_str()));
}

/// The purge of expired items runs when the server starts (and every five
/// minutes after), and reports each run on the admin port's `/metrics`:
/// its outcome, what it removed, how long it took and when one last
/// succeeded.
#[tokio::test]
async fn the_purge_runs_at_start_and_reports_itself() {
    use alexa_link_server::store::AccessTokenRecord;
    use alexa_link_server::tokens::TokenHash;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = test_config(dir.path());
    let store = alexa_link_server::app::open_store(&config.store)
        .await
        .expect("store");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    for (n, expires_at) in [now - 60, now - 1, now + 3600].into_iter().enumerate() {
        let record = AccessTokenRecord {
            client_id: "alexa".into(),
            user_id: None,
            scope: "profile".into(),
            grant_id: None,
            issued_at: expires_at - 3600,
            expires_at,
        };
        store
            .put_access_token(&TokenHash::of(&format!("token-{n}")), &record)
            .await
            .expect("put");
    }
    let server = TestServer::start_sharing(config, dir, store.clone()).await;
    let sample = alexa_link_server::testing::metric;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = server.metrics().await;
        if sample(&metrics, r#"alexa_link_purges_total{outcome="ok"}"#) == Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        sample(&metrics, r#"alexa_link_purges_total{outcome="ok"}"#),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, r#"alexa_link_purges_total{outcome="failed"}"#),
        Some(0.0)
    );
    assert_eq!(
        sample(&metrics, "alexa_link_purged_items_total"),
        Some(2.0),
        "the two expired tokens, not the live one"
    );
    assert_eq!(
        sample(&metrics, "alexa_link_purge_duration_seconds_count"),
        Some(1.0)
    );
    let stamped =
        sample(&metrics, "alexa_link_purge_last_success_timestamp_seconds").expect("stamped");
    assert!(stamped >= now as f64, "{stamped} before {now}");
    assert!(
        sample(&metrics, "alexa_link_store_busy_seconds_total").is_some_and(|b| b > 0.0),
        "the embedded store reports how busy its thread is"
    );
    server.stop().await;
}
