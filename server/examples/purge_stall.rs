//! How long the embedded store's purge of expired tokens holds up the
//! requests that arrive meanwhile.
//!
//! Fills a fresh store in a temporary directory (`PURGE_BENCH_DIR`, else
//! `TMPDIR`) with `PURGE_BENCH_RECORDS` access tokens (default 200000), half
//! of them expired, then writes new tokens from `PURGE_BENCH_C` tasks
//! (default 50) for `PURGE_BENCH_SECONDS` (default 2) with nothing else
//! running, and again while one purge runs, and prints (for the second,
//! the writes that overlapped the purge)
//!
//!     purge: removed N in T ms
//!     idle:   writes W  p50 .. p99 .. max .. ms
//!     purge:  writes W  p50 .. p99 .. max .. ms
//!
//! Run by `tests/bench/compare.sh` (ours alone); a figure, never a test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alexa_link_server::store::embedded::EmbeddedStore;
use alexa_link_server::store::{AccessTokenRecord, Store, UnixTime};
use alexa_link_server::tokens::{self, TokenHash, TokenKind};

/// When the expired half expired, and when the purge runs.
const EXPIRED_AT: UnixTime = 1_000;
const PURGE_AT: UnixTime = 2_000;
const LIVE_UNTIL: UnixTime = 4_000_000_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A new token's key, as the server mints it.
fn token() -> TokenHash {
    tokens::generate(TokenKind::AccessToken).hash
}

fn record(expires_at: UnixTime) -> AccessTokenRecord {
    AccessTokenRecord {
        client_id: "bench-client".into(),
        user_id: None,
        scope: "profile".into(),
        grant_id: None,
        issued_at: 0,
        expires_at,
    }
}

/// Writes new live tokens from `c` tasks until `until` says stop; returns
/// every write's start and latency.
async fn write_load(
    store: Arc<EmbeddedStore>,
    c: u64,
    until: impl Fn() -> bool + Send + Sync + 'static,
) -> Vec<(Instant, Duration)> {
    let until = Arc::new(until);
    let mut tasks = Vec::new();
    for _ in 0..c {
        let store = store.clone();
        let until = until.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !until() {
                let started = Instant::now();
                store
                    .put_access_token(&token(), &record(LIVE_UNTIL))
                    .await
                    .expect("write");
                latencies.push((started, started.elapsed()));
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.expect("writer task"));
    }
    all
}

fn summary(label: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{label:<6} writes {:>7}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        latencies.len(),
        at(0.5),
        at(0.99),
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
}

/// The server binary's allocator (see `server/src/main.rs`), so that the
/// figures are those of what ships.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    let records = env_number("PURGE_BENCH_RECORDS", 200_000);
    let c = env_number("PURGE_BENCH_C", 50);
    let seconds = env_number("PURGE_BENCH_SECONDS", 2);
    let dir = match std::env::var_os("PURGE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("store.redb")).expect("open store"));

    // The fill: 256 writes in flight, every other token expired.
    let mut next = 0u64;
    while next < records {
        let mut batch = Vec::new();
        for n in next..(next + 256).min(records) {
            let store = store.clone();
            let expires_at = if n % 2 == 0 { EXPIRED_AT } else { LIVE_UNTIL };
            batch.push(tokio::spawn(async move {
                store.put_access_token(&token(), &record(expires_at)).await
            }));
        }
        for write in batch {
            write.await.expect("fill task").expect("fill write");
        }
        next += 256;
    }

    let stop_at = Instant::now() + Duration::from_secs(seconds);
    let idle = write_load(store.clone(), c, move || Instant::now() >= stop_at).await;

    let purging = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = {
        let purging = purging.clone();
        tokio::spawn(write_load(store.clone(), c, move || {
            !purging.load(std::sync::atomic::Ordering::Relaxed)
        }))
    };
    // Let the load reach its pace before the purge starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let removed = store.purge_expired(PURGE_AT).await.expect("purge");
    let took = started.elapsed();
    purging.store(false, std::sync::atomic::Ordering::Relaxed);
    let during = load.await.expect("load");

    println!(
        "purge: removed {removed} of {records} in {:.1} ms",
        took.as_secs_f64() * 1e3
    );
    let purge_ended = started + took;
    summary("idle", idle.into_iter().map(|(_, l)| l).collect());
    // The writes the purge overlapped.
    summary(
        "purge",
        during
            .into_iter()
            .filter(|(at, l)| *at < purge_ended && *at + *l > started)
            .map(|(_, l)| l)
            .collect(),
    );
}
