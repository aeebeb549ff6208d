//! The operator binary's start-up, run as a user runs it.

use std::process::Command;

/// An admin address the operator cannot listen on stops it at start with
/// the address and the reason, rather than leaving it running with no
/// `/healthz` or `/readyz` for its probes. No API server is needed: the
/// address is taken before the operator connects.
#[test]
fn an_admin_address_in_use_stops_the_operator_and_says_which() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_alexa-link-operator"))
        .args(["run", "--admin-listen", &addr])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .expect("run the operator");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains(&format!("failed to listen on the admin address {addr}")),
        "{log}"
    );
    assert!(log.contains("Address already in use"), "{log}");
}
