//! Serves the cached partner-token path for a load tool.
//!
//! Starts the server in this process with mutual linking against the LWA
//! stand-in, links one user through the real flow (authorize, login,
//! consent, code exchange, reciprocal call), then prints one line
//!
//!     READY <partner token URL> <Authorization header value>
//!
//! and serves until stdin closes. `tests/bench/partner-token.sh` drives it.

use std::io::Read as _;

use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{
    ClientAuth, OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, TestServer, USERS, link, reciprocal,
};
use base64::Engine as _;

#[tokio::main]
async fn main() {
    let lwa = LwaStandIn::start().await;
    let server =
        TestServer::start_with_partner_and(&lwa, |c| c.logging.level = "warn".into()).await;
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
        "READY {}?user_id=user-ann Basic {basic}",
        server.url("/api/partner/token")
    );
    // Serve until the driver closes our stdin.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .expect("stdin watcher");
    assert_eq!(lwa.refresh_calls(), 0, "the measured path never called LWA");
    server.stop().await;
}
