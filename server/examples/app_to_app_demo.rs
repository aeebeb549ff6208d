//! A server with App-to-App linking against the LWA and Alexa stand-ins,
//! for the real-browser test of the web variant
//! (`tests/browser/app_to_app.test.mjs`).
//!
//! Starts the stand-ins and the server in this process on loopback, prints
//!
//!     BASE_URL <the server's public URL>
//!     LINK_PAGE <the "Link with Alexa" page URL>
//!     USER <username> <password>
//!     APP_TOKEN <an access token of the app for that user (alexa_app_link)>
//!     SKILL <the skill parameter> REDIRECT_URI <the app's redirect URI>
//!     READY
//!
//! and serves until stdin closes.

use std::io::Read as _;

use alexa_link_server::routes;
use alexa_link_server::testing::alexa::{self, AlexaStandIn};
use alexa_link_server::testing::lwa::LwaStandIn;
use alexa_link_server::testing::{APP_ALEXA_REDIRECT, APP_TO_APP_SKILL, USERS, app_user_token};

#[tokio::main]
async fn main() {
    let lwa = LwaStandIn::start().await;
    let alexa = AlexaStandIn::start(lwa.handle()).await;
    let server = alexa::start_server(&lwa, &alexa, |_| {}).await;
    println!("BASE_URL {}", server.base_url);
    println!("LINK_PAGE {}", server.url(routes::APP_TO_APP_LINK_PAGE));
    println!("USER {} {}", USERS[0].0, USERS[0].1);
    println!("APP_TOKEN {}", app_user_token(&server, USERS[0]).await);
    println!("SKILL {APP_TO_APP_SKILL} REDIRECT_URI {APP_ALEXA_REDIRECT}");
    println!("READY");
    // Block a thread on stdin, not the runtime that serves the requests.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    server.stop().await;
}
