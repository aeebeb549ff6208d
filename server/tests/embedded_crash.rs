//! The embedded store keeps every answered write through a crash.
//!
//! The real server binary runs on the embedded store under concurrent
//! `client_credentials` load (each answer is an opaque access token, one
//! store write) for longer than a checkpoint interval, and is killed with
//! SIGKILL mid-load. Every token it answered must then be in the store,
//! read by opening the store file as the server would (which replays the
//! journal). Twice over, the second time on the store the first crash left.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alexa_link_server::store::Store;
use alexa_link_server::store::embedded::EmbeddedStore;
use alexa_link_server::testing::{OTHER_CLIENT_ID, OTHER_CLIENT_SECRET, test_config};
use alexa_link_server::tokens::TokenHash;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start(config_file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_alexa-link-server"))
        .arg("--config")
        .arg(config_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server")
}

async fn wait_ready(admin: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{admin}/readyz")).await
            && r.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "the server never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `workers` loops of client_credentials requests until the server
/// goes away; returns every access token that was answered with a 200.
async fn load_until_killed(base: String, mut server: Child, run_for: Duration) -> Vec<String> {
    let answered = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::new();
    let mut workers = Vec::new();
    for _ in 0..16 {
        let (client, base, answered) = (client.clone(), base.clone(), answered.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let response = client
                    .post(format!("{base}/oauth/token"))
                    .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await;
                let Ok(response) = response else { return };
                if response.status() != 200 {
                    return;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let token = body["access_token"].as_str().expect("access_token");
                answered.lock().expect("lock").push(token.to_owned());
            }
        }));
    }
    tokio::time::sleep(run_for).await;
    // SIGKILL: no shutdown, no final checkpoint.
    server.kill().expect("kill");
    server.wait().expect("wait");
    for worker in workers {
        worker.await.expect("worker");
    }
    Arc::try_unwrap(answered)
        .expect("workers done")
        .into_inner()
        .expect("lock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_answered_token_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = test_config(dir.path());
    config.server.listen = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    config.server.admin_listen = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
    let base = format!("http://{}", config.server.listen);
    let admin = format!("http://{}", config.server.admin_listen);
    let config_file = dir.path().join("config.yaml");
    std::fs::write(&config_file, config.to_yaml()).expect("write config");
    let store_file = dir.path().join("store.redb");

    let mut all = Vec::new();
    // More than the 1 s checkpoint interval: the crash lands after at
    // least one checkpoint, with journaled batches after it.
    for (round, run_for) in [(1, 1_600), (2, 2_300)] {
        let server = start(&config_file);
        wait_ready(&admin).await;
        let answered =
            load_until_killed(base.clone(), server, Duration::from_millis(run_for)).await;
        assert!(
            answered.len() > 100,
            "round {round}: only {} tokens answered",
            answered.len()
        );
        all.extend(answered);

        let store = EmbeddedStore::open(&store_file).expect("open the crashed store");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("time")
            .as_secs() as i64;
        let mut missing = 0;
        for token in &all {
            if store
                .get_access_token(&TokenHash::of(token), now)
                .await
                .expect("read")
                .is_none()
            {
                missing += 1;
            }
        }
        assert_eq!(
            missing,
            0,
            "round {round}: {missing} of {} answered tokens lost",
            all.len()
        );
        drop(store);
        // The writer thread lets go of the file when it sees the store gone.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
