//! Slow clients: connections that send partial headers are closed after
//! the header-read timeout and do not keep a new client from being served.

use std::time::{Duration, Instant};

use alexa_link_server::routes;
use alexa_link_server::server::HEADER_READ_TIMEOUT;
use alexa_link_server::testing::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How many slow connections the test holds open at once.
const SLOW: usize = 200;

fn addr(server: &TestServer) -> String {
    let url = url::Url::parse(&server.url("/")).expect("url");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port().expect("port")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_headers_are_cut_off_and_do_not_block_a_new_client() {
    let server = TestServer::start().await;
    let addr = addr(&server);
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .expect("partial head");
        slow.push(stream);
    }
    let start = Instant::now();
    let response = reqwest::get(server.url(routes::METADATA))
        .await
        .expect("a new client is served");
    assert_eq!(response.status(), 200);
    let served = start.elapsed();
    eprintln!(
        "slow clients: {SLOW} connections with partial headers held; a new client served in {served:?}"
    );
    assert!(served < Duration::from_secs(2), "{served:?}");

    // Past the header-read timeout every slow connection has been closed.
    let deadline = HEADER_READ_TIMEOUT + Duration::from_secs(3);
    for stream in &mut slow {
        let mut buf = [0u8; 256];
        let read = tokio::time::timeout(deadline, stream.read(&mut buf))
            .await
            .expect("the server closes a connection stuck in its headers");
        // Closed outright, or after a 408 answer.
        if let Ok(n) = read
            && n > 0
        {
            assert!(buf.starts_with(b"HTTP/1.1 408"), "{:?}", &buf[..n]);
        }
    }
    server.stop().await;
}

/// A TCP connection from a chosen loopback address (Linux routes all of
/// 127/8 to the loopback interface).
async fn connect_from(local: [u8; 4], addr: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((local, 0)))
        .expect("bind a loopback source address");
    socket
        .connect(addr.parse().expect("addr"))
        .await
        .expect("connect")
}

/// Whether the server closed `stream` (without answering) within `wait`.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// An HTTP/1.1 GET on a client bound to `local`; the status and how long
/// it took.
async fn get_from(local: [u8; 4], server: &TestServer, path: &str) -> (u16, Duration) {
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(local))
        .build()
        .expect("client");
    let start = Instant::now();
    let response = http.get(server.url(path)).send().await.expect("served");
    (response.status().as_u16(), start.elapsed())
}

/// One address holding thousands of silent connections gets the
/// per-address cap's worth; the rest are closed at once, and a client from
/// another address is served as if nothing happened. This is the figure
/// the README reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holding_thousands_of_connections_does_not_lock_out_another() {
    const HELD: usize = 3000;
    let server = TestServer::start().await;
    let cap = server
        .app
        .config
        .server
        .connections
        .max_connections_per_address;
    let addr = addr(&server);
    let mut held = Vec::with_capacity(HELD);
    for _ in 0..HELD {
        held.push(connect_from([127, 0, 0, 1], &addr).await);
    }
    let (status, served) = get_from([127, 0, 0, 2], &server, routes::METADATA).await;
    assert_eq!(status, 200);
    let mut closed = 0;
    for stream in &mut held {
        if closed_within(stream, Duration::from_millis(20)).await {
            closed += 1;
        }
    }
    eprintln!(
        "slow clients: {HELD} silent connections from one address, {} held open (cap {cap}), {closed} closed at once; a client from another address served in {served:?}",
        HELD - closed
    );
    assert_eq!(HELD - closed, cap, "exactly the per-address cap is held");
    assert!(served < Duration::from_secs(1), "{served:?}");
    server.stop().await;
}

/// The total cap holds too: two addresses fill it, a third is refused
/// until a connection ends.
#[tokio::test]
async fn the_total_connection_cap_refuses_new_connections_until_one_ends() {
    let server = TestServer::start_with(|c| {
        c.server.connections.max_connections = 20;
        c.server.connections.max_connections_per_address = 10;
    })
    .await;
    let addr = addr(&server);
    let mut held = Vec::new();
    for local in [[127, 0, 0, 1], [127, 0, 0, 3]] {
        for _ in 0..10 {
            held.push(connect_from(local, &addr).await);
        }
    }
    let mut third = connect_from([127, 0, 0, 2], &addr).await;
    assert!(
        closed_within(&mut third, Duration::from_secs(2)).await,
        "over the total cap"
    );
    held.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, _) = get_from([127, 0, 0, 2], &server, routes::METADATA).await;
    assert_eq!(status, 200, "a place came free");
    server.stop().await;
}

/// HTTP/2 without TLS ("h2c" prior knowledge) is refused outright; an
/// `Upgrade: h2c` request is answered over HTTP/1.1, never upgraded.
#[tokio::test]
async fn plaintext_http2_is_refused() {
    let server = TestServer::start().await;
    let addr = addr(&server);
    let mut h2c = TcpStream::connect(&addr).await.expect("connect");
    h2c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("preface");
    assert!(
        closed_within(&mut h2c, Duration::from_secs(2)).await,
        "the h2c preface gets a closed connection, not HTTP/2"
    );

    let mut upgrade = TcpStream::connect(&addr).await.expect("connect");
    upgrade
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        )
        .await
        .expect("request");
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(2), upgrade.read(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    assert!(!head.starts_with("HTTP/1.1 101"), "never upgraded: {head}");

    // HTTP/1.1 itself is untouched by the check of the first bytes.
    let (status, _) = get_from([127, 0, 0, 1], &server, routes::METADATA).await;
    assert_eq!(status, 200);
    server.stop().await;
}
