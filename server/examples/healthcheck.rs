//! `alexa-link-healthcheck URL`: one plain-HTTP GET, exit 0 on a 2xx answer.
//!
//! The image ships no shell, wget or curl (a distroless base), yet the Helm
//! chart's `helm test` hook must ask the operator's `/readyz` from a pod of
//! that image. This is that check, and nothing more: HTTP/1.0 (so the peer
//! closes the connection and no chunked decoding is needed), no TLS (admin
//! ports speak plain HTTP), a bounded time for every step.
//!
//!     alexa-link-healthcheck http://10.96.0.12:8081/readyz
//!
//! Exit codes: 0 healthy (2xx), 1 unhealthy (any other status), 2 the check
//! could not be made (bad URL, no route, timeout).
//!
//! It uses the standard library only, so `scripts/image` and the Dockerfile
//! compile it with `rustc` alone, without building the server library.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::process::ExitCode;
use std::time::Duration;

/// How long each of connect, write and read may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of the answer that is read (status line and a short body).
const MAX_ANSWER: u64 = 64 * 1024;

/// Why a check could not be made at all.
#[derive(Debug)]
enum CheckError {
    Usage,
    Url(String, String),
    Resolve(String, std::io::Error),
    Connect(String, std::io::Error),
    Io(String, std::io::Error),
    NotHttp(String, String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Usage => write!(f, "usage: alexa-link-healthcheck http://HOST:PORT/PATH"),
            CheckError::Url(url, why) => write!(f, "invalid URL {url:?}: {why}"),
            CheckError::Resolve(at, e) => write!(f, "failed to resolve {at}: {e}"),
            CheckError::Connect(at, e) => write!(f, "failed to connect to {at}: {e}"),
            CheckError::Io(at, e) => write!(f, "failed to talk to {at}: {e}"),
            CheckError::NotHttp(at, got) => {
                write!(f, "{at} answered something that is not HTTP: {got:?}")
            }
        }
    }
}

/// The parts of an `http://` URL a GET needs.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    path_and_query: String,
}

/// Accepts `http://HOST[:PORT][/PATH]` only: the admin ports never speak
/// TLS, and a probe URL has no user info or fragment.
fn parse_target(raw: &str) -> Result<Target, CheckError> {
    let bad = |why: &str| CheckError::Url(raw.to_owned(), why.to_owned());
    let rest = raw
        .strip_prefix("http://")
        .ok_or_else(|| bad("only http:// is supported"))?;
    let (authority, path_and_query) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('/') => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    if authority.contains('@') || path_and_query.contains('#') {
        return Err(bad("user info and fragments are not supported"));
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`; the brackets stay, as a
    // Host header wants them.
    let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|a| a.find(']')) {
        let host = &authority[..end + 2];
        match &authority[end + 2..] {
            "" => (host, None),
            p => (
                host,
                Some(p.strip_prefix(':').ok_or_else(|| bad("bad port"))?),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(bad("no host"));
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse().map_err(|_| bad("bad port"))?,
    };
    Ok(Target {
        host: host.to_owned(),
        port,
        path_and_query,
    })
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK`).
fn status_code(answer: &str) -> Option<u16> {
    let line = answer.lines().next()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

fn check(raw: &str) -> Result<(u16, String), CheckError> {
    let target = parse_target(raw)?;
    let authority = format!("{}:{}", target.host, target.port);
    let bare_host = target.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (bare_host, target.port)
        .to_socket_addrs()
        .map_err(|e| CheckError::Resolve(authority.clone(), e))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, STEP_TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut stream = stream.ok_or_else(|| {
        CheckError::Connect(
            authority.clone(),
            last.unwrap_or_else(|| std::io::Error::other("no address")),
        )
    })?;
    let io = |e| CheckError::Io(authority.clone(), e);
    stream.set_read_timeout(Some(STEP_TIMEOUT)).map_err(io)?;
    stream.set_write_timeout(Some(STEP_TIMEOUT)).map_err(io)?;
    let request = format!(
        "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: alexa-link-healthcheck\r\nConnection: close\r\n\r\n",
        target.path_and_query, authority
    );
    stream.write_all(request.as_bytes()).map_err(io)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .map_err(io)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let code = status_code(&answer)
        .ok_or_else(|| CheckError::NotHttp(authority.clone(), answer.chars().take(80).collect()))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_owned())
        .unwrap_or_default();
    Ok((code, body))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [url] => check(url),
        _ => Err(CheckError::Usage),
    };
    match result {
        Ok((code, body)) if (200..300).contains(&code) => {
            println!("{code} {body}");
            ExitCode::SUCCESS
        }
        Ok((code, body)) => {
            eprintln!("unhealthy: {code} {body}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_http_urls_only() {
        assert_eq!(
            parse_target("http://10.0.0.1:8081/readyz?x=1").ok(),
            Some(Target {
                host: "10.0.0.1".into(),
                port: 8081,
                path_and_query: "/readyz?x=1".into()
            })
        );
        assert_eq!(
            parse_target("http://[::1]/healthz")
                .ok()
                .map(|t| (t.host, t.port)),
            Some(("[::1]".into(), 80))
        );
        assert!(matches!(
            parse_target("https://x/readyz"),
            Err(CheckError::Url(..))
        ));
        assert!(matches!(parse_target("readyz"), Err(CheckError::Url(..))));
        assert!(matches!(
            parse_target("http://:80/"),
            Err(CheckError::Url(..))
        ));
        assert!(matches!(
            parse_target("http://h:port/"),
            Err(CheckError::Url(..))
        ));
        assert_eq!(
            parse_target("http://svc")
                .ok()
                .map(|t| (t.port, t.path_and_query)),
            Some((80, "/".into()))
        );
    }

    #[test]
    fn reads_the_status_line() {
        assert_eq!(status_code("HTTP/1.1 200 OK\r\n\r\nready"), Some(200));
        assert_eq!(
            status_code("HTTP/1.0 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_code("SSH-2.0-OpenSSH"), None);
        assert_eq!(status_code(""), None);
    }

    /// Serves one canned answer on a loopback port and returns its URL.
    fn one_answer(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = s.write_all(answer.as_bytes());
            }
        });
        format!("http://{addr}/readyz")
    }

    #[test]
    fn a_real_exchange_reports_status_and_body() {
        let url = one_answer("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nready");
        assert_eq!(check(&url).ok(), Some((200, "ready".into())));
        let url = one_answer("HTTP/1.1 503 Service Unavailable\r\n\r\nnot leading");
        assert_eq!(check(&url).ok(), Some((503, "not leading".into())));
        let url = one_answer("garbage");
        assert!(matches!(check(&url), Err(CheckError::NotHttp(..))));
    }

    #[test]
    fn a_closed_port_is_a_connect_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        assert!(matches!(
            check(&format!("http://127.0.0.1:{port}/readyz")),
            Err(CheckError::Connect(..))
        ));
    }
}
