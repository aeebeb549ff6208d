//! The in-repo LWA stand-in (`alexa_link_server::testing::lwa`) on an address
//! that a server pod can reach, for the node suite (`tests/node/run.sh`).
//!
//!     lwa_standin 127.0.0.1:18080     # run inside the pod's network namespace
//!     lwa_standin credentials         # print CLIENT_ID and CLIENT_SECRET, exit
//!
//! The server accepts a plain-HTTP LWA token URL only on a loopback address
//! and trusts only the public CAs, so the node suite starts this process in
//! the server pod's network namespace (`nsenter --net`), like a sidecar: the
//! pod then calls `http://127.0.0.1:18080/auth/o2/token`. The stand-in itself
//! listens on an ephemeral loopback port; this process accepts on the given
//! address and relays each connection to it, byte for byte. It prints
//!
//!     TOKEN_URL http://<addr>/auth/o2/token
//!     CLIENT_ID <the LWA client id it accepts>
//!     CLIENT_SECRET <its secret>
//!     READY
//!
//! then answers one line on stdin with one line on stdout:
//! `code` -> `CODE <a fresh authorization code, as Alexa gets from LWA>`,
//! `calls` -> `CALLS <authorization_code requests> <refresh_token requests>`.
//! It exits when stdin closes.

use std::io::{BufRead as _, Write as _};
use std::net::SocketAddr;

use alexa_link_server::testing::lwa::{LWA_CLIENT_ID, LWA_CLIENT_SECRET, LwaStandIn};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: lwa_standin LISTEN_ADDR | credentials"))?;
    if arg == "credentials" {
        println!("CLIENT_ID {LWA_CLIENT_ID}");
        println!("CLIENT_SECRET {LWA_CLIENT_SECRET}");
        return Ok(());
    }
    let listen: SocketAddr = arg.parse()?;
    let lwa = LwaStandIn::start().await;
    let upstream = lwa
        .token_url
        .socket_addrs(|| None)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the stand-in has no address"))?;
    let listener = TcpListener::bind(listen).await?;
    let public = listener.local_addr()?;
    tokio::spawn(relay(listener, upstream));

    println!("TOKEN_URL http://{public}/auth/o2/token");
    println!("CLIENT_ID {LWA_CLIENT_ID}");
    println!("CLIENT_SECRET {LWA_CLIENT_SECRET}");
    println!("READY");
    std::io::stdout().flush()?;

    // Commands on stdin, answered in order; a blocking reader on its own
    // thread keeps the runtime free for the relay.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(8);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = rx.recv().await {
        match line.trim() {
            "code" => println!("CODE {}", lwa.issue_code()),
            "calls" => println!("CALLS {} {}", lwa.code_calls(), lwa.refresh_calls()),
            other => println!("ERROR unknown command {other:?}"),
        }
        std::io::stdout().flush()?;
    }
    Ok(())
}

/// Accepts forever; one task per connection copies both ways.
async fn relay(listener: TcpListener, upstream: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}
