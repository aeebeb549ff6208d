//! A server for load tools, with one user mutually linked.
//!
//! Starts the server in this process (embedded store, or DynamoDB when
//! `BENCH_DYNAMODB_ENDPOINT` names DynamoDB Local) with mutual linking
//! against the LWA stand-in, links one user through the real flow
//! (authorize, login, consent, code exchange, reciprocal call), prints
//!
//!     PARTNER_URL <partner-token URL for that user>
//!     TOKEN_URL <token endpoint URL>
//!     BASIC <HTTP Basic credentials of the app client, base64>
//!     READY
//!
//! and serves until stdin closes. Driven by the scripts in `tests/bench/`.

use std::io::Read as _;

use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS, dynamodb_store, link,
    reciprocal, unique_table,
};
use base64::Engine as _;

#[tokio::main]
async fn main() {
    let lwa = LwaStandIn::start().await;
    let dynamodb = std::env::var("BENCH_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let server =
        TestServer::start_with_partner_and(&lwa, |c| c.logging.level = "warn".into()).await;
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
                c.client_secret_file = rebased(&c.client_secret_file);
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
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{OTHER_CLIENT_ID}:{OTHER_CLIENT_SECRET}"));
    println!(
        "PARTNER_URL {}?user_id=user-ann",
        server.url("/api/partner/token")
    );
    println!("TOKEN_URL {}", server.url("/oauth/token"));
    println!("BASIC {basic}");
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
