//! The in-repo SMAPI stand-in (`alexa_link_server::testing::smapi`) as a
//! process, for the operator's SMAPI suite (`tests/operator/smapi.sh`).
//!
//!     smapi_standin 127.0.0.1:0
//!
//! prints
//!
//!     SMAPI_URL http://<addr>
//!     LWA_TOKEN_URL http://<addr>/auth/o2/token
//!     CLIENT_ID <the LWA client id it accepts>
//!     CLIENT_SECRET <its secret>
//!     REFRESH_TOKEN <a refresh token with alexa::ask:skills:readwrite>
//!     SKILL_ID <the skill it knows>
//!     VENDOR_ID <the vendor id in that skill's redirect URLs>
//!     READY
//!
//! and serves until stdin closes. Tests read and steer it over HTTP under
//! `/_standin/` (see the module's documentation).

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;

use alexa_link_server::testing::smapi::{
    SKILL_ID, SMAPI_CLIENT_ID, SMAPI_CLIENT_SECRET, SMAPI_REFRESH_TOKEN, SmapiStandIn, VENDOR_ID,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen: SocketAddr = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: smapi_standin LISTEN_ADDR"))?
        .parse()?;
    let standin = SmapiStandIn::start_on(listen).await?;
    println!(
        "SMAPI_URL {}",
        standin.base_url.as_str().trim_end_matches('/')
    );
    println!("LWA_TOKEN_URL {}", standin.token_url);
    println!("CLIENT_ID {SMAPI_CLIENT_ID}");
    println!("CLIENT_SECRET {SMAPI_CLIENT_SECRET}");
    println!("REFRESH_TOKEN {SMAPI_REFRESH_TOKEN}");
    println!("SKILL_ID {SKILL_ID}");
    println!("VENDOR_ID {VENDOR_ID}");
    println!("READY");
    std::io::stdout().flush()?;
    // Serve until stdin closes (the test's end of a pipe).
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    drop(standin);
    Ok(())
}
