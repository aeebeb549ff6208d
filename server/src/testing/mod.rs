//! Test harness (feature `test-support`): a real server on loopback ports
//! with a test config, and a client that walks the linking flow the way
//! Alexa and a user's phone do. Integration tests of this crate and of later
//! crates build on it.

pub mod alexa;
pub mod lwa;
pub mod skill_backend;
pub mod smapi;

use std::path::Path;
use std::time::Duration;

use argon2::Params;
use serde_json::Value;
use url::Url;

use crate::app::{AppState, open_store};
use crate::clock::Clock;
use crate::config::{
    AuthorizationConfig, ClientConfig, Config, EmbeddedStoreConfig, GrantType, IdentityConfig,
    LoggingConfig, LoginProtectionConfig, LwaRegion, PartnerConfig, PkcePolicy, RefreshTokenPolicy,
    ServerConfig, StaticIdentityConfig, StaticUser, StoreConfig, alexa_redirect_uris,
};
use crate::identity::password::hash_argon2_with;
use crate::oauth::pkce;
use crate::server::{self, Listeners, Running};
use crate::tokens;

/// The test client (Alexa).
pub const CLIENT_ID: &str = "alexa-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// Its Alexa vendor id.
pub const VENDOR_ID: &str = "MTESTVENDOR";
/// A second client, for "another client's token" cases.
pub const OTHER_CLIENT_ID: &str = "other-client";
/// Its secret.
pub const OTHER_CLIENT_SECRET: &str = "other-client-secret-0123456789";
/// Test users: (username, password). `ann` has an argon2 hash, `bob` bcrypt.
pub const USERS: [(&str, &str); 2] = [("ann", "ann-password"), ("bob", "bob-password")];

/// Alexa's NA redirect URI for the test vendor.
pub fn redirect_uri() -> String {
    alexa_redirect_uris(VENDOR_ID)[0].clone()
}

/// A config like a small production one, with secret files under `dir`.
/// Listens on loopback port 0.
pub fn test_config(dir: &Path) -> Config {
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write test secret");
        path
    };
    let cheap = Params::new(64, 1, 1, None).expect("argon2 params");
    Config {
        server: ServerConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            public_url: Url::parse("http://127.0.0.1").expect("url"),
            tls: None,
            allow_insecure_http: false,
            session_key_file: write(
                "session-key",
                "0123456789abcdef0123456789abcdef-test-session-key",
            ),
            connections: Default::default(),
        },
        logging: LoggingConfig::default(),
        branding: None,
        authorization: AuthorizationConfig::default(),
        clients: vec![
            ClientConfig {
                client_id: CLIENT_ID.into(),
                client_secret_file: Some(write("alexa-secret", &format!("{CLIENT_SECRET}\n"))),
                public: false,
                display_name: Some("Alexa test skill".into()),
                redirect_uris: vec![],
                alexa_vendor_id: Some(VENDOR_ID.into()),
                scopes: vec!["profile".into(), "baby.activity".into()],
                grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
                access_token_lifetime_seconds: 3600,
                refresh_token: RefreshTokenPolicy::default(),
                pkce: PkcePolicy::Required,
                skip_consent: false,
                partner_token_access: false,
                partner_token_partners: vec![],
                access_token_format: Default::default(),
                access_token_audience: None,
                branding: None,
            },
            ClientConfig {
                client_id: OTHER_CLIENT_ID.into(),
                client_secret_file: Some(write("other-secret", OTHER_CLIENT_SECRET)),
                public: false,
                display_name: None,
                redirect_uris: vec!["https://app.example.com/callback".into()],
                alexa_vendor_id: None,
                scopes: vec!["profile".into()],
                grant_types: vec![
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                    GrantType::ClientCredentials,
                ],
                access_token_lifetime_seconds: 600,
                refresh_token: RefreshTokenPolicy::default(),
                pkce: PkcePolicy::Required,
                skip_consent: true,
                partner_token_access: false,
                partner_token_partners: vec![],
                access_token_format: Default::default(),
                access_token_audience: None,
                branding: None,
            },
        ],
        identity: IdentityConfig::Static(StaticIdentityConfig {
            users_file: None,
            users: vec![
                StaticUser {
                    username: USERS[0].0.into(),
                    password_hash: hash_argon2_with(USERS[0].1, cheap),
                    id: Some("user-ann".into()),
                    display_name: Some("Ann".into()),
                    groups: vec!["parents".into()],
                },
                StaticUser {
                    username: USERS[1].0.into(),
                    password_hash: bcrypt::hash(USERS[1].1, 4).expect("bcrypt"),
                    id: Some("user-bob".into()),
                    display_name: Some("Bob".into()),
                    groups: vec![],
                },
            ],
        }),
        login_protection: LoginProtectionConfig::default(),
        store: StoreConfig::Embedded(EmbeddedStoreConfig::at(dir.join("store.redb"))),
        partners: vec![],
        encryption_key_files: vec![],
        access_token_signing_key_files: vec![],
        app_to_app: None,
    }
}

/// Gives every client `format` access tokens, with the keys it needs
/// written under `dir` (a key ring file for `sealed`, unless mutual linking
/// already configured one; an Ed25519 PEM key for `jwt`).
pub fn use_access_token_format(
    config: &mut Config,
    dir: &Path,
    format: crate::config::AccessTokenFormat,
) {
    for client in &mut config.clients {
        client.access_token_format = format;
    }
    if format == crate::config::AccessTokenFormat::Sealed {
        use_encryption_key(config, dir);
    }
    if format == crate::config::AccessTokenFormat::Jwt {
        let path = dir.join("jwt-signing-key.pem");
        tokens::jwt::generate_ed25519_pem(&path).expect("write signing key");
        config.access_token_signing_key_files = vec![path];
    }
}

/// Gives the server an encryption key (`encryptionKeyFiles`) in `dir`,
/// unless it has one: sealed access tokens need it, and with it refresh
/// tokens carry their claims ([`tokens::refresh`]).
pub fn use_encryption_key(config: &mut Config, dir: &Path) {
    if config.encryption_key_files.is_empty() {
        let path = dir.join("access-token-key-1");
        std::fs::write(&path, [tokens::random_id(), tokens::random_id()].concat())
            .expect("write key");
        config.encryption_key_files = vec![path];
    }
}

/// The value of the sample `name` (with its labels, as exposed) in a
/// `/metrics` text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The partner id of [`add_partner`].
pub const PARTNER_ID: &str = "amazon";

/// Configures mutual linking against `token_url` (an [`lwa::LwaStandIn`]):
/// the Alexa test client delivers reciprocal codes; the other client (the
/// skill developer's app) may read partner tokens.
pub fn add_partner(config: &mut Config, dir: &Path, token_url: &Url) {
    let write = |name: &str, contents: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write test secret");
        path
    };
    config.partners = vec![PartnerConfig {
        id: PARTNER_ID.into(),
        linked_clients: vec![CLIENT_ID.into()],
        client_id_file: write("lwa-client-id", lwa::LWA_CLIENT_ID.as_bytes()),
        client_secret_file: write(
            "lwa-client-secret",
            format!("{}\n", lwa::LWA_CLIENT_SECRET).as_bytes(),
        ),
        region: LwaRegion::Na,
        token_url: Some(token_url.clone()),
        scopes: vec!["alexa::health:profile:write".into()],
        refresh_margin_seconds: 300,
        request_timeout_seconds: 2,
        ca_file: None,
    }];
    config.encryption_key_files = vec![write(
        "token-key-1",
        &[tokens::random_id(), tokens::random_id()].concat(),
    )];
    config.clients[1].partner_token_access = true;
    config.clients[1]
        .scopes
        .push(crate::config::PARTNER_TOKEN_SCOPE.into());
}

/// The developer's app as an OAuth client of our server (App-to-App): a
/// public client, as a mobile app is (no secret; PKCE).
pub const APP_CLIENT_ID: &str = "skill-app";
/// Where the app receives its own authorization codes.
pub const APP_OAUTH_REDIRECT: &str = "https://app.example.com/oauth";
/// The app's universal link that Amazon sends the App-to-App code to.
pub const APP_ALEXA_REDIRECT: &str = "https://app.example.com/alexa-linked";
/// The `appToApp.skills[].id` of [`add_app_to_app`].
pub const APP_TO_APP_SKILL: &str = "test-skill";

/// Configures App-to-App linking against the stand-ins: mutual linking's
/// partner (the skill's LWA credentials, see [`add_partner`]) for
/// [`alexa::SKILL_ID`], the Alexa test client, and the app as a client.
pub fn add_app_to_app(
    config: &mut Config,
    dir: &Path,
    lwa: &lwa::LwaStandIn,
    alexa: &alexa::AlexaStandIn,
) {
    add_partner(config, dir, &lwa.token_url);
    config.clients.push(ClientConfig {
        client_id: APP_CLIENT_ID.into(),
        client_secret_file: None,
        public: true,
        display_name: Some("The skill's app".into()),
        redirect_uris: vec![APP_OAUTH_REDIRECT.into()],
        alexa_vendor_id: None,
        scopes: vec![crate::config::APP_TO_APP_SCOPE.into(), "profile".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        access_token_lifetime_seconds: 3600,
        refresh_token: RefreshTokenPolicy::default(),
        pkce: PkcePolicy::Required,
        skip_consent: true,
        partner_token_access: false,
        partner_token_partners: vec![],
        access_token_format: Default::default(),
        access_token_audience: None,
        branding: None,
    });
    config.app_to_app = Some(crate::config::AppToAppConfig {
        skills: vec![crate::config::AppToAppSkill {
            id: APP_TO_APP_SKILL.into(),
            skill_id: alexa::SKILL_ID.into(),
            stage: crate::config::SkillStage::Development,
            partner: PARTNER_ID.into(),
            alexa_client: CLIENT_ID.into(),
            alexa_redirect_uri: Some(redirect_uri()),
            app_clients: vec![APP_CLIENT_ID.into()],
            app_redirect_uris: vec![APP_ALEXA_REDIRECT.into()],
            scopes: vec!["profile".into()],
        }],
        state_lifetime_seconds: 600,
        request_timeout_seconds: 2,
        max_attempts: 3,
        alexa_api_url: Some(alexa.base_url.clone()),
        alexa_app_url: Some(alexa.alexa_app_url()),
        lwa_authorize_url: Some(alexa.lwa_authorize_url()),
    });
}

/// A user's access token for the app (scope `alexa_app_link`), obtained
/// the way the app would: authorize, login, code exchange with PKCE.
pub async fn app_user_token(server: &TestServer, user: (&str, &str)) -> String {
    let body = app_user_tokens(server, user).await;
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The app's whole token response for a user: the code of
/// [`app_user_code`] redeemed as a public client does it, with `client_id`
/// in the body, no secret, and the PKCE verifier.
pub async fn app_user_tokens(server: &TestServer, user: (&str, &str)) -> Value {
    let (code, verifier) = app_user_code(server, user).await;
    let response = reqwest::Client::new()
        .post(server.url(crate::routes::TOKEN))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", APP_CLIENT_ID),
            ("code", &code),
            ("redirect_uri", APP_OAUTH_REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), 200, "the app redeems its code");
    response.json().await.expect("token JSON")
}

/// An authorization code for the app and the PKCE verifier that proves it:
/// authorize with an S256 challenge, login (the app skips consent).
pub async fn app_user_code(server: &TestServer, user: (&str, &str)) -> (String, String) {
    app_user_code_at(server, user, APP_OAUTH_REDIRECT).await
}

/// [`app_user_code`] with another of the app's registered redirect URIs.
pub async fn app_user_code_at(
    server: &TestServer,
    user: (&str, &str),
    redirect: &str,
) -> (String, String) {
    let browser = Browser::new();
    let pkce = Pkce::new();
    let mut url = Url::parse(&server.url(crate::routes::AUTHORIZE)).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", APP_CLIENT_ID)
        .append_pair("redirect_uri", redirect)
        .append_pair("scope", crate::config::APP_TO_APP_SCOPE)
        .append_pair("state", "app")
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    let page = browser.http.get(url).send().await.expect("authorize");
    let html = page.text().await.expect("login page");
    let login = submit_login(server, &browser, &html, user).await;
    assert_eq!(login.status(), 303, "login redirects back to authorize");
    let back = browser
        .http
        .get(
            server.url(
                login.headers()[reqwest::header::LOCATION]
                    .to_str()
                    .expect("loc"),
            ),
        )
        .send()
        .await
        .expect("authorize after login");
    assert_eq!(back.status(), 302, "the app skips consent");
    let params = location_params(&back);
    let code = param(&params, "code").expect("a code");
    (code.to_owned(), pkce.verifier)
}

/// Whether [`TestServer::start_at`] runs the config check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checked {
    /// As the binary does.
    Yes,
    /// Serve what the check would refuse.
    No,
}

/// A server running in this process on loopback.
pub struct TestServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `http://127.0.0.1:<admin port>`.
    pub admin_url: String,
    /// The running application (its store, clock, config).
    pub app: AppState,
    /// Holds secret files and the store.
    pub dir: tempfile::TempDir,
    running: Option<Running>,
}

impl TestServer {
    /// Starts with [`test_config`].
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts with [`test_config`] changed by `adjust`.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        adjust(&mut config);
        TestServer::start_config(config, dir).await
    }

    /// Starts with mutual linking configured against `lwa`.
    pub async fn start_with_partner(lwa: &lwa::LwaStandIn) -> TestServer {
        TestServer::start_with_partner_and(lwa, |_| {}).await
    }

    /// Like [`TestServer::start_with_partner`], then `adjust`.
    pub async fn start_with_partner_and(
        lwa: &lwa::LwaStandIn,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = test_config(dir.path());
        add_partner(&mut config, dir.path(), &lwa.token_url);
        adjust(&mut config);
        TestServer::start_config(config, dir).await
    }

    /// Starts with a given config (its files under `dir`).
    pub async fn start_config(config: Config, dir: tempfile::TempDir) -> TestServer {
        TestServer::start_at(config, dir, None, Checked::Yes).await
    }

    /// Starts with a given config on an already open store: several
    /// servers sharing one store are replicas of one deployment.
    pub async fn start_sharing(
        config: Config,
        dir: tempfile::TempDir,
        store: std::sync::Arc<dyn crate::store::Store>,
    ) -> TestServer {
        TestServer::start_on(config, dir, store, None, Checked::Yes).await
    }

    /// Starts with a given config, announcing `public_url` (a host name the
    /// test maps to the listener) instead of the listener's own URL. With
    /// [`Checked::No`] the config check is skipped, to serve a setting it
    /// refuses: tools that must recognise such servers (the doctor) need one.
    pub async fn start_at(
        config: Config,
        dir: tempfile::TempDir,
        public_url: Option<Url>,
        checked: Checked,
    ) -> TestServer {
        let store = open_store(&config.store).await.expect("open store");
        TestServer::start_on(config, dir, store, public_url, checked).await
    }

    async fn start_on(
        mut config: Config,
        dir: tempfile::TempDir,
        store: std::sync::Arc<dyn crate::store::Store>,
        public_url: Option<Url>,
        checked: Checked,
    ) -> TestServer {
        let listeners = Listeners::bind(&config.server).expect("bind");
        let scheme = if config.server.tls.is_some() {
            "https"
        } else {
            "http"
        };
        config.server.public_url = public_url.unwrap_or_else(|| {
            Url::parse(&format!("{scheme}://{}", listeners.public_addr())).expect("public url")
        });
        if checked == Checked::Yes {
            config.validate().expect("test config is valid");
        }
        let app = AppState::new(config, store, Clock::default()).expect("app");
        let running = server::serve(app.clone(), listeners).await.expect("serve");
        TestServer {
            base_url: format!("{scheme}://{}", running.public_addr),
            admin_url: format!("http://{}", running.admin_addr),
            app,
            dir,
            running: Some(running),
        }
    }

    /// An absolute URL on the public listener.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The admin port's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin_url))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The server's clock (advance it to cross expiry times).
    pub fn clock(&self) -> &Clock {
        &self.app.clock
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown(Duration::from_secs(5)).await;
        }
    }
}

/// A PKCE verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// Sent with the token request.
    pub verifier: String,
    /// Sent with the authorization request.
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Pkce {
        let verifier = format!("{}{}", tokens::random_nonce(), tokens::random_nonce());
        let challenge = pkce::challenge_of(&verifier);
        Pkce {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Pkce::new()
    }
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic.
    Basic,
    /// `client_id` and `client_secret` in the body.
    Body,
}

/// A user's phone browser: keeps cookies, does not follow redirects.
pub struct Browser {
    /// The HTTP client.
    pub http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
        }
    }

    /// Submits a form.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(url)
            .form(fields)
            .send()
            .await
            .expect("post form")
    }
}

/// A browser whose cookies the test handles itself: it can plant one the
/// way a sibling host of the same site could, or be cloned to copy every
/// cookie (a session cookie taken from the device).
#[derive(Default, Clone)]
pub struct RawBrowser {
    /// The HTTP client (no cookie store, no redirects followed).
    pub http: reqwest::Client,
    /// The cookies it sends: name to value.
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl RawBrowser {
    /// A browser without cookies.
    pub fn new() -> RawBrowser {
        RawBrowser {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: Default::default(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Applies a response's `Set-Cookie` headers (an empty value removes).
    pub fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let set = set.to_str().expect("ascii");
            let pair = set.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
    }

    /// `GET url` with the cookies; keeps what the answer sets.
    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .expect("get");
        self.keep(&response);
        response
    }

    /// Submits a form with the cookies; keeps what the answer sets.
    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .expect("post");
        self.keep(&response);
        response
    }

    /// Signs in on the linked-apps page; returns that page.
    pub async fn sign_in(&mut self, server: &TestServer, user: (&str, &str)) -> String {
        let html = self
            .get(&server.url(crate::routes::LINKS))
            .await
            .text()
            .await
            .expect("html");
        let csrf = hidden_field(&html, "csrf").expect("csrf");
        let login = self
            .post(
                &server.url(crate::routes::LOGIN),
                &[("csrf", &csrf), ("username", user.0), ("password", user.1)],
            )
            .await;
        assert_eq!(login.status(), 303);
        self.get(&server.url(crate::routes::LINKS))
            .await
            .text()
            .await
            .expect("html")
    }
}

/// The authorization URL Alexa opens, for the test client.
pub fn authorize_url(server: &TestServer, pkce: &Pkce, state: &str, scope: &str) -> String {
    let mut url = Url::parse(&server.url(crate::routes::AUTHORIZE)).expect("url");
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &redirect_uri())
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

pub use crate::doctor::html::hidden_field;

/// The query parameters of a redirect's `Location`.
pub fn location_params(response: &reqwest::Response) -> Vec<(String, String)> {
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location header");
    Url::parse(location)
        .expect("absolute Location")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of `name` among redirect parameters.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Submits the login form of a login page (`html`) as `user`.
pub async fn submit_login(
    server: &TestServer,
    browser: &Browser,
    html: &str,
    user: (&str, &str),
) -> reqwest::Response {
    let mut fields = vec![
        ("csrf", hidden_field(html, "csrf").expect("csrf field")),
        ("username", user.0.to_owned()),
        ("password", user.1.to_owned()),
    ];
    if let Some(request) = hidden_field(html, "request") {
        fields.push(("request", request));
    }
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    browser
        .post_form(&server.url(crate::routes::LOGIN), &fields)
        .await
}

/// One password login from a fresh browser: the status (303 logged in,
/// 401 wrong, 429 throttled) and `Retry-After`.
pub async fn login_attempt(server: &TestServer, user: (&str, &str)) -> (u16, Option<u64>) {
    let browser = Browser::new();
    let html = browser
        .http
        .get(authorize_url(server, &Pkce::new(), "st", "profile"))
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("login page");
    let response = submit_login(server, &browser, &html, user).await;
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (response.status().as_u16(), retry)
}

/// Walks authorize -> login -> consent as a user would and returns the
/// code delivered to Alexa's redirect URI.
pub async fn obtain_code(
    server: &TestServer,
    browser: &Browser,
    user: (&str, &str),
    pkce: &Pkce,
) -> String {
    let state = tokens::random_nonce();
    let page = browser
        .http
        .get(authorize_url(server, pkce, &state, "profile"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), 200, "authorize shows the login page");
    let html = page.text().await.expect("login html");
    let request = hidden_field(&html, "request").expect("request field");
    let csrf = hidden_field(&html, "csrf").expect("csrf field");
    let login = browser
        .post_form(
            &server.url(crate::routes::LOGIN),
            &[
                ("request", &request),
                ("csrf", &csrf),
                ("username", user.0),
                ("password", user.1),
            ],
        )
        .await;
    assert_eq!(login.status(), 303, "login redirects back to authorize");
    let page = browser
        .http
        .get(
            server.url(
                login.headers()[reqwest::header::LOCATION]
                    .to_str()
                    .expect("location"),
            ),
        )
        .send()
        .await
        .expect("authorize after login");
    // A user who already consented to these scopes goes straight back.
    let consent = if page.status() == 302 {
        page
    } else {
        assert_eq!(page.status(), 200, "consent page");
        let html = page.text().await.expect("consent html");
        let consent = browser
            .post_form(
                &server.url(crate::routes::CONSENT),
                &[
                    ("request", &hidden_field(&html, "request").expect("request")),
                    ("csrf", &hidden_field(&html, "csrf").expect("csrf")),
                    ("decision", "allow"),
                ],
            )
            .await;
        assert_eq!(consent.status(), 303, "consent redirects to Alexa");
        consent
    };
    let params = location_params(&consent);
    assert_eq!(
        param(&params, "state"),
        Some(state.as_str()),
        "state is echoed"
    );
    param(&params, "code").expect("a code").to_owned()
}

/// POSTs to the token endpoint as the test client.
pub async fn token_request(
    server: &TestServer,
    auth: ClientAuth,
    fields: &[(&str, &str)],
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    let mut request = http.post(server.url(crate::routes::TOKEN));
    match auth {
        ClientAuth::Basic => request = request.basic_auth(CLIENT_ID, Some(CLIENT_SECRET)),
        ClientAuth::Body => {
            form.push(("client_id", CLIENT_ID));
            form.push(("client_secret", CLIENT_SECRET));
        }
    }
    let response = request.form(&form).send().await.expect("token request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("token endpoint answers JSON"),
    )
}

/// Links `user` as Alexa would: the browser part, then the code exchange.
/// Returns the token response.
pub async fn link(server: &TestServer, user: (&str, &str), auth: ClientAuth) -> Value {
    let browser = Browser::new();
    let pkce = Pkce::new();
    let code = obtain_code(server, &browser, user, &pkce).await;
    let (status, body) = token_request(
        server,
        auth,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri()),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "code exchange succeeds: {body}");
    body
}

/// Alexa's call to the reciprocal endpoint: the LWA `code`, authenticated
/// with the access token we issued for the user.
pub async fn reciprocal(server: &TestServer, access_token: &str, code: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(server.url(crate::routes::RECIPROCAL_AUTHORIZE))
        .bearer_auth(access_token)
        .form(&[
            ("grant_type", "reciprocal_authorization_code"),
            ("code", code),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .expect("reciprocal request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("reciprocal answers JSON"),
    )
}

/// The skill developer's app asking for a user's Amazon token (HTTP Basic
/// as the other client).
pub async fn partner_token(server: &TestServer, user_id: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(server.url(crate::routes::PARTNER_TOKEN))
        .basic_auth(OTHER_CLIENT_ID, Some(OTHER_CLIENT_SECRET))
        .query(&[("user_id", user_id)])
        .send()
        .await
        .expect("partner token request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.expect("partner token answers JSON"),
    )
}

/// A DynamoDB store config for DynamoDB Local at `endpoint` (dummy static
/// credentials written under `dir`, a table created on start).
pub fn dynamodb_store(dir: &Path, endpoint: &str, table: &str) -> StoreConfig {
    let write = |name: &str, contents: &str| {
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write credentials");
        path
    };
    StoreConfig::Dynamodb(crate::config::DynamoDbStoreConfig {
        table_name: table.into(),
        region: "us-east-1".into(),
        endpoint: Some(Url::parse(endpoint).expect("endpoint url")),
        create_table: true,
        credentials: Some(crate::config::AwsCredentialFiles {
            access_key_id_file: write("aws-access-key-id", "AKIALOCALTESTING"),
            secret_access_key_file: write("aws-secret-access-key", "local-testing-secret"),
        }),
        max_attempts: 2,
        // Generous: DynamoDB Local shares two cores with the test build.
        attempt_timeout_millis: 5000,
        owner: None,
    })
}

/// A table name no other test uses.
pub fn unique_table() -> String {
    format!(
        "alexa-link-test-{}",
        tokens::random_nonce().replace(['-', '_'], "x")
    )
}
