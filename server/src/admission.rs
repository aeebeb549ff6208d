//! Which connections the public listener serves: caps on open connections
//! (in all and per client address) and on TLS handshakes in progress, and
//! only HTTP/1.1, or HTTP/2 when TLS negotiated it (ALPN `h2`; `tls.rs`
//! offers only `http/1.1` today).
//!
//! [`Admission`] wraps the listener's acceptor (plain, or rustls), so every
//! decision is made before hyper sees a byte. A connection over a cap is
//! closed at once: a client holding thousands of sockets (each stalled in
//! its headers or its handshake) then costs us a bounded number of them,
//! and a client from another address still gets in.
//!
//! Plaintext HTTP/2 ("h2c" with prior knowledge) is refused: hyper's
//! automatic protocol detection would otherwise serve it on the plain
//! listener (and over TLS without ALPN), bypassing the HTTP/1 header-read
//! timeout. The first bytes are read and compared with the HTTP/2 preface;
//! any other first byte ends the comparison, and the bytes read are handed
//! to hyper unchanged. `Upgrade: h2c` needs nothing: no upgrade is ever
//! performed, the request is answered over HTTP/1.1.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ConnectionLimitsConfig;
use crate::peer::subscriber;

/// The bytes an HTTP/2 client sends first (RFC 9113 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The open-connection counts, shared by every accepted connection.
pub struct Limits {
    config: ConnectionLimitsConfig,
    total: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

impl Limits {
    /// Counts for `config`.
    pub fn new(config: &ConnectionLimitsConfig) -> Arc<Limits> {
        Arc::new(Limits {
            total: Arc::new(Semaphore::new(config.max_connections)),
            handshakes: Arc::new(Semaphore::new(config.max_tls_handshakes)),
            per_address: Mutex::new(HashMap::new()),
            config: config.clone(),
        })
    }

    /// A place for a connection from `ip`, or `None` over a cap.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        let key = subscriber(ip);
        let mut counts = self.lock();
        let count = counts.entry(key).or_insert(0);
        if *count >= self.config.max_connections_per_address {
            return None;
        }
        *count += 1;
        Some(Slot {
            limits: self.clone(),
            key,
            _total: total,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // Plain counts stay usable after a panic elsewhere.
        self.per_address.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One admitted connection's place, given back when the connection ends.
struct Slot {
    limits: Arc<Limits>,
    key: IpAddr,
    _total: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.limits.lock();
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Whether a stream negotiated HTTP/2 (TLS with ALPN `h2`).
pub trait NegotiatedH2 {
    /// True when HTTP/2 was agreed on before the first byte.
    fn negotiated_h2(&self) -> bool;
}

impl NegotiatedH2 for TcpStream {
    fn negotiated_h2(&self) -> bool {
        false
    }
}

impl<S> NegotiatedH2 for tokio_rustls::server::TlsStream<S> {
    fn negotiated_h2(&self) -> bool {
        self.get_ref().1.alpn_protocol() == Some(b"h2")
    }
}

/// An acceptor that applies [`Limits`] and the protocol rule around `inner`.
#[derive(Clone)]
pub struct Admission<A> {
    inner: A,
    limits: Arc<Limits>,
    first_bytes_timeout: Duration,
}

impl<A> Admission<A> {
    /// Wraps `inner`; the first bytes must arrive within
    /// `first_bytes_timeout` (the header-read timeout).
    pub fn new(inner: A, limits: Arc<Limits>, first_bytes_timeout: Duration) -> Admission<A> {
        Admission {
            inner,
            limits,
            first_bytes_timeout,
        }
    }
}

/// Why a connection was not admitted (logged at debug; the client sees a
/// closed connection).
fn refused(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, why)
}

impl<A, S> Accept<TcpStream, S> for Admission<A>
where
    A: Accept<TcpStream, S> + Clone + Send + Sync + 'static,
    A::Stream: AsyncRead + AsyncWrite + Unpin + Send + NegotiatedH2 + 'static,
    A::Service: Send + 'static,
    A::Future: Send + 'static,
    S: Send + 'static,
{
    type Stream = Admitted<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let ip = stream.peer_addr()?.ip();
            let Some(slot) = this.limits.admit(ip) else {
                tracing::debug!(%ip, "connection refused: over the connection cap");
                return Err(refused("over the connection cap"));
            };
            let Ok(handshake) = this.limits.handshakes.clone().try_acquire_owned() else {
                tracing::debug!(%ip, "connection refused: too many TLS handshakes in progress");
                return Err(refused("too many handshakes in progress"));
            };
            let (mut stream, service) = this.inner.accept(stream, service).await?;
            drop(handshake);
            let mut read = Vec::new();
            if !stream.negotiated_h2() {
                read = tokio::time::timeout(this.first_bytes_timeout, first_bytes(&mut stream))
                    .await
                    .map_err(|_| refused("no request within the header-read timeout"))??;
                if read == H2_PREFACE {
                    tracing::debug!(%ip, "connection refused: plaintext HTTP/2 (h2c)");
                    return Err(refused("HTTP/2 without TLS and ALPN is not served"));
                }
            }
            Ok((
                Admitted {
                    inner: stream,
                    read,
                    at: 0,
                    _slot: slot,
                },
                service,
            ))
        })
    }
}

/// Reads until the bytes either differ from the HTTP/2 preface (almost
/// always the first byte: no HTTP/1 method starts with `P`, `R`, `I`
/// except `PRI`) or are all of it.
async fn first_bytes<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut read = Vec::with_capacity(H2_PREFACE.len());
    let mut buf = [0u8; 24];
    while read.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&read) {
        let want = H2_PREFACE.len() - read.len();
        let n = stream.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a request",
            ));
        }
        read.extend_from_slice(&buf[..n]);
    }
    Ok(read)
}

/// An admitted connection: the bytes already read come first; its place
/// under the caps is held until it is dropped.
pub struct Admitted<S> {
    inner: S,
    read: Vec<u8>,
    at: usize,
    _slot: Slot,
}

impl<S: AsyncRead + Unpin> AsyncRead for Admitted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.at < this.read.len() {
            let n = (this.read.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.read[this.at..this.at + n]);
            this.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Admitted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_per_subscriber_and_give_places_back() {
        let limits = Limits::new(&ConnectionLimitsConfig {
            max_connections: 3,
            max_connections_per_address: 2,
            max_tls_handshakes: 1,
        });
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let a1 = limits.admit(ip("2001:db8::1")).expect("first");
        let a2 = limits.admit(ip("2001:db8::2")).expect("second, same /64");
        assert!(limits.admit(ip("2001:db8::3")).is_none(), "per-address cap");
        let b = limits.admit(ip("192.0.2.1")).expect("another address");
        assert!(limits.admit(ip("192.0.2.2")).is_none(), "total cap");
        drop(a1);
        drop(b);
        assert!(
            limits.admit(ip("2001:db8::4")).is_some(),
            "a place came back"
        );
        drop(a2);
        assert!(limits.lock().len() <= 1, "no count is left behind");
    }
}
