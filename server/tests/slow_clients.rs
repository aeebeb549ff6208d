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
