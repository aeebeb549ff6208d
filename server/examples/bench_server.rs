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
//!     READY
//!
//! For repeatable load, the linked client here does not rotate refresh
//! tokens (the same token refreshes again and again) and may also use
//! `client_credentials`: one client serves every scenario of
//! `tests/bench/compare.sh`, like the peer's single client.
//!
//! and serves until stdin closes. Driven by the scripts in `tests/bench/`.

use std::io::Read as _;

use alexa_link_server::config::{Config, GrantType};
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    CLIENT_ID, CLIENT_SECRET, ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS,
    dynamodb_store, link, reciprocal, unique_table,
};
use base64::Engine as _;

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
            ] {
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
    println!(
        "PARTNER_URL {}?user_id=user-ann",
        server.url("/api/partner/token")
    );
    println!("TOKEN_URL {}", server.url("/oauth/token"));
    println!("INTROSPECT_URL {}", server.url("/oauth/introspect"));
    println!("BASIC {}", basic(OTHER_CLIENT_ID, OTHER_CLIENT_SECRET));
    println!("CLIENT_BASIC {}", basic(CLIENT_ID, CLIENT_SECRET));
    println!("REFRESH_TOKEN {}", token("refresh_token"));
    println!("ACCESS_TOKEN {}", token("access_token"));
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

/// The test config, quieter, with the linked client set up for repeatable
/// load: no refresh-token rotation, and `client_credentials` allowed.
fn bench_config(config: &mut Config) {
    config.logging.level = "warn".into();
    let client = &mut config.clients[0];
    client.refresh_token.rotation = false;
    client.grant_types.push(GrantType::ClientCredentials);
}
