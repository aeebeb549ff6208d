//! The in-repo LWA stand-in (`alexa_link_server::testing::lwa`) on an address
//! that a server pod can reach, for the node suite (`tests/node/run.sh`).
//!
//!     lwa_standin 10.88.0.1:18443 --tls CERT.pem KEY.pem   # https on the bridge
//!     lwa_standin 127.0.0.1:18080     # plain HTTP (loopback only, for the server)
//!     lwa_standin credentials         # print CLIENT_ID and CLIENT_SECRET, exit
//!
//! The server accepts a plain-HTTP LWA token URL only on a loopback address,
//! so a stand-in that pods reach serves https with a test CA's certificate,
//! which the link trusts through `partner.caBundleRef`. The stand-in itself
//! listens on an ephemeral loopback port; this process accepts on the given
//! address (terminating TLS with `--tls`) and relays each connection to it,
//! byte for byte. It prints
//!
//!     TOKEN_URL http(s)://<addr>/auth/o2/token
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
    let tls = match std::env::args().nth(2).as_deref() {
        Some("--tls") => {
            let (Some(cert), Some(key)) = (std::env::args().nth(3), std::env::args().nth(4)) else {
                anyhow::bail!("usage: lwa_standin LISTEN_ADDR --tls CERT.pem KEY.pem");
            };
            Some(acceptor(&cert, &key)?)
        }
        Some(other) => anyhow::bail!("unknown argument {other:?}"),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let lwa = LwaStandIn::start().await;
    let upstream = lwa
        .token_url
        .socket_addrs(|| None)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("the stand-in has no address"))?;
    let listener = TcpListener::bind(listen).await?;
    let public = listener.local_addr()?;
    tokio::spawn(relay(listener, upstream, tls));

    println!("TOKEN_URL {scheme}://{public}/auth/o2/token");
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

/// A TLS acceptor (ring, TLS 1.2 and 1.3) presenting the PEM chain and key.
fn acceptor(cert: &str, key: &str) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let chain = rustls_pemfile::certs(&mut std::io::BufReader::new(std::fs::File::open(cert)?))
        .collect::<Result<Vec<_>, _>>()?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(std::fs::File::open(key)?))?
        .ok_or_else(|| anyhow::anyhow!("no private key in {key}"))?;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// Accepts forever; one task per connection (TLS ended here when `tls` is
/// set) copies both ways.
async fn relay(
    listener: TcpListener,
    upstream: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                return;
            };
            match tls {
                Some(tls) => {
                    if let Ok(mut inbound) = tls.accept(inbound).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }
                None => {
                    let mut inbound = inbound;
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            }
        });
    }
}
