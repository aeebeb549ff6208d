//! A stand-in for the Login with Amazon token endpoint, for tests only.
//!
//! It follows LWA's documented contract for the two grants we use:
//! `authorization_code` (codes are single-use; an unknown or reused code is
//! `400 invalid_grant`) and `refresh_token` (optionally rotating), client
//! authentication by body credentials (`401 invalid_client` otherwise),
//! `Atza|`/`Atzr|` tokens, `expires_in` 3600. Switches inject latency, 5xx
//! answers and connection resets. Nothing else in this repository pretends
//! to be Amazon.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::tokens;

/// The LWA client id the stand-in accepts.
pub const LWA_CLIENT_ID: &str = "amzn1.application-oa2-client.0123456789abcdef";
/// Its secret.
pub const LWA_CLIENT_SECRET: &str = "lwa-test-client-secret-0123456789";

/// Fault switches, flipped by tests at any time.
#[derive(Default, Debug)]
pub struct Switches {
    /// Delay before every answer, in milliseconds.
    pub latency_ms: AtomicU64,
    /// Answer every request with 503.
    pub fail_5xx: AtomicBool,
    /// Reset every new connection at once.
    pub reset: AtomicBool,
    /// Issue a new refresh token on every refresh (LWA keeps it by default).
    pub rotate_refresh: AtomicBool,
}

#[derive(Default)]
struct Ledger {
    codes: HashSet<String>,
    refresh_tokens: HashMap<String, bool>,
    /// Codes issued for a redirect URI (App-to-App): the exchange must
    /// repeat it. With the Amazon user they belong to.
    bound_codes: HashMap<String, (String, String)>,
    /// The Amazon user of each issued access and refresh token.
    users: HashMap<String, String>,
}

struct Shared {
    switches: Arc<Switches>,
    ledger: Mutex<Ledger>,
    code_calls: AtomicU64,
    refresh_calls: AtomicU64,
}

/// A running stand-in on a loopback port.
pub struct LwaStandIn {
    /// Its token endpoint, `http://127.0.0.1:<port>/auth/o2/token`.
    pub token_url: Url,
    /// Its fault switches.
    pub switches: Arc<Switches>,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LwaStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LwaStandIn {
    /// Starts it on 127.0.0.1 and an ephemeral port.
    pub async fn start() -> LwaStandIn {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("addr");
        let switches = Arc::new(Switches::default());
        let shared = Arc::new(Shared {
            switches: switches.clone(),
            ledger: Mutex::default(),
            code_calls: AtomicU64::new(0),
            refresh_calls: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/auth/o2/token", post(token))
            .with_state(shared.clone());
        let listener = ResettingListener {
            inner: listener,
            switches: switches.clone(),
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        LwaStandIn {
            token_url: Url::parse(&format!("http://{addr}/auth/o2/token")).expect("url"),
            switches,
            shared,
            task,
        }
    }

    /// A fresh authorization code, as Alexa would receive from LWA.
    pub fn issue_code(&self) -> String {
        let code = format!("ANcode{}", tokens::random_nonce());
        self.ledger().codes.insert(code.clone());
        code
    }

    /// A code for `amazon_user`, issued as LWA does after consent for an
    /// authorization request that named `redirect_uri`.
    pub fn issue_code_for(&self, redirect_uri: &str, amazon_user: &str) -> String {
        LwaHandle(self.shared.clone()).issue_code_for(redirect_uri, amazon_user)
    }

    /// A handle other stand-ins keep to issue codes and recognise tokens.
    pub fn handle(&self) -> LwaHandle {
        LwaHandle(self.shared.clone())
    }

    /// The user revoked the skill's access at Amazon: every refresh token dies.
    pub fn revoke_all_refresh_tokens(&self) {
        for valid in self.ledger().refresh_tokens.values_mut() {
            *valid = false;
        }
    }

    /// How many `authorization_code` requests arrived.
    pub fn code_calls(&self) -> u64 {
        self.shared.code_calls.load(Ordering::SeqCst)
    }

    /// How many `refresh_token` requests arrived.
    pub fn refresh_calls(&self) -> u64 {
        self.shared.refresh_calls.load(Ordering::SeqCst)
    }

    /// Sets the delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.switches
            .latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.shared.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What other stand-ins (Alexa's) know of LWA: which Amazon user a token
/// belongs to, and how consent turns into a code.
#[derive(Clone)]
pub struct LwaHandle(Arc<Shared>);

impl LwaHandle {
    /// See [`LwaStandIn::issue_code_for`].
    pub fn issue_code_for(&self, redirect_uri: &str, amazon_user: &str) -> String {
        let code = format!("ANcode{}", tokens::random_nonce());
        self.ledger().bound_codes.insert(
            code.clone(),
            (redirect_uri.to_owned(), amazon_user.to_owned()),
        );
        code
    }

    /// The Amazon user of an access token LWA issued.
    pub fn user_of(&self, access_token: &str) -> Option<String> {
        self.ledger().users.get(access_token).cloned()
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.0.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn lwa_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let latency = shared.switches.latency_ms.load(Ordering::SeqCst);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let mut response = answer(&shared, &body);
    // No keep-alive: every call opens a connection, so the reset switch
    // applies to the very next request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn answer(shared: &Shared, body: &[u8]) -> Response {
    if shared.switches.fail_5xx.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);
    if get("client_id") != Some(LWA_CLIENT_ID) || get("client_secret") != Some(LWA_CLIENT_SECRET) {
        return lwa_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let mut ledger = shared.ledger.lock().unwrap_or_else(|p| p.into_inner());
    match get("grant_type") {
        Some("authorization_code") => {
            shared.code_calls.fetch_add(1, Ordering::SeqCst);
            let Some(code) = get("code") else {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The request is missing a required parameter : code",
                );
            };
            let user = if ledger.codes.remove(code) {
                format!("amzn1.account.{}", tokens::random_nonce())
            } else if let Some((redirect_uri, user)) = ledger.bound_codes.remove(code) {
                // LWA: a code issued for a redirect URI is redeemed with it.
                if get("redirect_uri") != Some(redirect_uri.as_str()) {
                    return lwa_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The redirect URI does not match the authorization request",
                    );
                }
                user
            } else {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The request has an invalid grant parameter : code",
                );
            };
            let refresh = format!("Atzr|{}", tokens::random_nonce());
            ledger.refresh_tokens.insert(refresh.clone(), true);
            ledger.users.insert(refresh.clone(), user.clone());
            let response = tokens_response(&refresh);
            ledger.users.insert(response.0, user);
            response.1
        }
        Some("refresh_token") => {
            shared.refresh_calls.fetch_add(1, Ordering::SeqCst);
            let Some(presented) = get("refresh_token") else {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The request is missing a required parameter : refresh_token",
                );
            };
            if ledger.refresh_tokens.get(presented) != Some(&true) {
                return lwa_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token",
                );
            }
            let user = ledger.users.get(presented).cloned().unwrap_or_default();
            let refresh = if shared.switches.rotate_refresh.load(Ordering::SeqCst) {
                ledger.refresh_tokens.insert(presented.to_owned(), false);
                let next = format!("Atzr|{}", tokens::random_nonce());
                ledger.refresh_tokens.insert(next.clone(), true);
                ledger.users.insert(next.clone(), user.clone());
                next
            } else {
                presented.to_owned()
            };
            let response = tokens_response(&refresh);
            ledger.users.insert(response.0, user);
            response.1
        }
        _ => lwa_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        ),
    }
}

/// A token response, with the new access token (to remember its user).
fn tokens_response(refresh: &str) -> (String, Response) {
    let access = format!("Atza|{}", tokens::random_nonce());
    let response = axum::Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": 3600,
    }))
    .into_response();
    (access, response)
}

struct ResettingListener {
    inner: TcpListener,
    switches: Arc<Switches>,
}

impl axum::serve::Listener for ResettingListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    if self.switches.reset.load(Ordering::SeqCst) {
                        // SO_LINGER 0: closing sends a TCP reset. (The
                        // deprecation is about blocking on a non-zero linger.)
                        #[allow(deprecated)]
                        let _ = stream.set_linger(Some(Duration::ZERO));
                        drop(stream);
                        continue;
                    }
                    return (stream, addr);
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
