//! A server for load tools, with one user mutually linked.
//!
//! Starts the server in this process (embedded store, or DynamoDB when
//! `BENCH_DYNAMODB_ENDPOINT` names DynamoDB Local) with mutual linking
//! against the LWA stand-in, links one user through the real flow
//! (authorize, login, consent, code exchange, reciprocal call), prints
//!
//!     PARTNER_URL <partner-token URL for that user>
//!     TOKEN_URL <token endpoint URL>
//!     INTROSPECT_URL <introspection endpoint URL>
//!     BASIC <HTTP Basic credentials of the app client, base64>
//!     CLIENT_BASIC <HTTP Basic credentials of the linked (Alexa) client, base64>
//!     REFRESH_TOKEN <the user's refresh token>
//!     ACCESS_TOKEN <the user's access token>
//!     FORMATS opaque sealed jwt
//!     REFRESH_TOKENS_FILE <file: one refresh token per line>   (BENCH_CHAINS)
//!     CODES_FILE <file: one authorization code per line>      (BENCH_CODES)
//!     REDIRECT_URI <the codes' redirect URI>                   (BENCH_CODES)
//!     READY
//!
//! The linked client may also use `client_credentials`: one client serves
//! every scenario of `tests/bench/compare.sh`, like the peer's single
//! client. Settings (environment):
//!
//! - `BENCH_ACCESS_TOKEN_FORMAT`: `opaque` (default), `sealed` or `jwt`,
//!   for every client.
//! - `BENCH_CHAINS=N`: the client rotates refresh tokens (as Alexa's does)
//!   and N more grants are linked through the real flow, one refresh-token
//!   chain per connection of the load tool. Unset: no rotation, and the one
//!   refresh token refreshes again and again.
//! - `BENCH_CODES=N`: N authorization codes of the linked user, written to
//!   the store as the consent step writes them, for the
//!   `authorization_code` scenario (each code redeems once).
//!
//! and serves until stdin closes. Driven by the scripts in `tests/bench/`.

use std::io::Read as _;

use alexa_link_server::config::{AccessTokenFormat, Config, GrantType};
use alexa_link_server::store::AuthCodeRecord;
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS,
    dynamodb_store, link, reciprocal, redirect_uri, unique_table, use_access_token_format,
};
use alexa_link_server::tokens::{self, TokenHash, TokenKind};
use base64::Engine as _;

/// The server binary's allocator (see `server/src/main.rs`), so that the
/// figures are those of what ships.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn env_number(name: &str) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let lwa = LwaStandIn::start().await;
    let dynamodb = std::env::var("BENCH_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let server = TestServer::start_with_partner_and(&lwa, bench_config).await;
    let server = match dynamodb {
        Some(endpoint) => {
            // Same config, DynamoDB store instead of the embedded one.
            let mut config = server.app.config.clone();
            let dir = tempfile::tempdir().expect("tempdir");
            for file in [
                "session-key",
                "alexa-secret",
                "other-secret",
                "lwa-client-id",
                "lwa-client-secret",
                "token-key-1",
                "jwt-signing-key.pem",
            ] {
                if !server.dir.path().join(file).exists() {
                    continue;
                }
                std::fs::copy(server.dir.path().join(file), dir.path().join(file))
                    .expect("copy secret");
            }
            config.store = dynamodb_store(dir.path(), &endpoint, &unique_table());
            config.server.listen = "127.0.0.1:0".parse().expect("addr");
            config.server.admin_listen = "127.0.0.1:0".parse().expect("addr");
            let rebased = |p: &std::path::Path| dir.path().join(p.file_name().expect("file name"));
            config.server.session_key_file = rebased(&config.server.session_key_file);
            for c in &mut config.clients {
                c.client_secret_file = c.client_secret_file.as_deref().map(rebased);
            }
            for p in &mut config.partners {
                p.client_id_file = rebased(&p.client_id_file);
                p.client_secret_file = rebased(&p.client_secret_file);
            }
            config.encryption_key_files = config
                .encryption_key_files
                .iter()
                .map(|f| rebased(f))
                .collect();
            config.access_token_signing_key_files = config
                .access_token_signing_key_files
                .iter()
                .map(|f| rebased(f))
                .collect();
            server.stop().await;
            TestServer::start_config(config, dir).await
        }
        None => server,
    };
    let tokens = link(&server, USERS[0], ClientAuth::Basic).await;
    let (status, body) = reciprocal(
        &server,
        tokens["access_token"].as_str().expect("access token"),
        &lwa.issue_code(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let basic = |id: &str, secret: &str| {
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    };
    let token = |name: &str| tokens[name].as_str().expect("token").to_owned();
    let work = tempfile::tempdir().expect("tempdir");
    let chains = env_number("BENCH_CHAINS");
    let chains_file = work.path().join("refresh-tokens");
    if chains > 0 {
        let mut lines = String::new();
        for _ in 0..chains {
            let linked = link(&server, USERS[0], ClientAuth::Basic).await;
            lines.push_str(linked["refresh_token"].as_str().expect("refresh token"));
            lines.push('\n');
        }
        std::fs::write(&chains_file, lines).expect("write refresh tokens");
    }
    let codes = env_number("BENCH_CODES");
    let codes_file = work.path().join("codes");
    if codes > 0 {
        std::fs::write(&codes_file, issue_codes(&server, codes).await).expect("write codes");
    }
    println!(
        "PARTNER_URL {}?user_id=user-ann",
        server.url("/api/partner/token")
    );
    println!("TOKEN_URL {}", server.url("/oauth/token"));
    println!("INTROSPECT_URL {}", server.url("/oauth/introspect"));
    println!("METRICS_URL {}/metrics", server.admin_url);
    println!("BASIC {}", basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET));
    println!("CLIENT_BASIC {}", basic(CLIENT_ID, CLIENT_SECRET));
    println!("REFRESH_TOKEN {}", token("refresh_token"));
    println!("ACCESS_TOKEN {}", token("access_token"));
    println!("FORMATS opaque sealed jwt");
    if chains > 0 {
        println!("REFRESH_TOKENS_FILE {}", chains_file.display());
    }
    if codes > 0 {
        println!("CODES_FILE {}", codes_file.display());
        println!("REDIRECT_URI {}", redirect_uri());
    }
    println!("READY");
    // Serve until the driver closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .expect("stdin watcher");
    assert_eq!(
        lwa.refresh_calls(),
        0,
        "the measured paths never called LWA"
    );
    server.stop().await;
}

/// The test config, quieter, with the linked client set up for the load
/// scenarios: `client_credentials` allowed, refresh tokens rotating only
/// when there are chains to follow, the access token format asked for.
fn bench_config(config: &mut Config) {
    config.logging.level = "warn".into();
    let client = &mut config.clients[0];
    client.refresh_token.rotation = env_number("BENCH_CHAINS") > 0;
    client.grant_types.push(GrantType::ClientCredentials);
    let format = match std::env::var("BENCH_ACCESS_TOKEN_FORMAT").as_deref() {
        Ok("sealed") => AccessTokenFormat::Sealed,
        Ok("jwt") => AccessTokenFormat::Jwt,
        Ok("opaque") | Err(_) => AccessTokenFormat::Opaque,
        Ok(other) => panic!("BENCH_ACCESS_TOKEN_FORMAT={other}: opaque, sealed or jwt"),
    };
    let dir = config
        .server
        .session_key_file
        .parent()
        .expect("the config's directory")
        .to_owned();
    use_access_token_format(config, &dir, format);
}

/// `n` authorization codes of the linked user for the linked client, stored
/// as the consent step stores them (many at once: each is a durable write).
/// Returns them, one per line.
async fn issue_codes(server: &TestServer, n: usize) -> String {
    let now = server.clock().now();
    let mut lines = String::new();
    let mut batch = Vec::new();
    for i in 0..n {
        let code = tokens::generate(TokenKind::AuthorizationCode);
        lines.push_str(&code.value);
        lines.push('\n');
        batch.push(code.hash);
        if batch.len() == 256 || i + 1 == n {
            let puts = batch.drain(..).map(|hash: TokenHash| {
                let store = server.app.store.clone();
                async move {
                    let record = AuthCodeRecord {
                        client_id: CLIENT_ID.into(),
                        user_id: "user-ann".into(),
                        redirect_uri: Some(redirect_uri()),
                        scope: "profile".into(),
                        code_challenge: None,
                        auth_time: now,
                        expires_at: now + 3600,
                        redeemed_for: None,
                    };
                    store.put_code(&hash, &record).await.expect("store a code");
                }
            });
            futures::future::join_all(puts).await;
        }
    }
    lines
}
