//! The HTTP checks: what Alexa's calls to the authorize, token and
//! reciprocal endpoints will meet, up to a whole link with a test user.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::html::hidden_field;
use super::report::Check;
use super::{Credentials, Options};
use crate::config::alexa_redirect_uris;
use crate::oauth::pkce;
use crate::routes;
use crate::tokens::random_nonce;

/// A client id no deployment has: bad-credential probes use it, so they
/// never count against the real client's failed-authentication budget.
const PROBE_CLIENT_ID: &str = "alexa-link-doctor-probe";

/// The regions of Alexa's redirect URLs, in [`alexa_redirect_uris`]' order.
const REGIONS: [&str; 3] = [
    "NA (pitangui.amazon.com)",
    "EU (layla.amazon.com)",
    "FE (alexa.amazon.co.jp)",
];

/// How the client authenticates at the token endpoint: the console's
/// "Authentication Scheme".
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    /// "HTTP Basic (Recommended)".
    Basic,
    /// "Credentials in request body".
    Body,
}

/// Why a scripted link stopped.
#[derive(Debug)]
enum LinkError {
    /// The server redirected an OAuth error to Alexa.
    Refused { error: String, description: String },
    /// The test user's login was refused.
    LoginRejected,
    /// Anything else, in a sentence.
    Broken(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Refused { error, description } => {
                write!(f, "the server answered Alexa {error}: {description}")
            }
            LinkError::LoginRejected => write!(f, "the test user's login was refused"),
            LinkError::Broken(s) => f.write_str(s),
        }
    }
}

/// One doctor run's HTTP side.
pub struct Probe<'a> {
    options: &'a Options,
    addr: SocketAddr,
    /// Every token-endpoint call's duration, for `token.latency`.
    latencies: Vec<Duration>,
}

impl<'a> Probe<'a> {
    /// A probe of `options.url`, connecting to `addr`.
    pub fn new(options: &'a Options, addr: SocketAddr) -> Probe<'a> {
        Probe {
            options,
            addr,
            latencies: Vec::new(),
        }
    }

    /// Runs the HTTP checks.
    pub async fn run(mut self) -> Vec<Check> {
        let mut checks = Vec::new();
        if let Err(e) = self.http(false) {
            checks.push(Check::fail(
                "http",
                format!("cannot build an HTTP client: {e}"),
                "check --ca-file",
            ));
            return checks;
        }
        checks.push(self.metadata().await);
        checks.push(self.authorize_endpoint().await);
        checks.push(self.token_errors().await);
        checks.push(self.regions().await);
        checks.extend(self.links().await);
        checks.push(self.latency());
        checks
    }

    fn http(&self, cookies: bool) -> Result<reqwest::Client, String> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.options.timeout)
            .cookie_store(cookies)
            .user_agent("alexa-link-doctor");
        for root in &self.options.extra_roots {
            let cert = reqwest::Certificate::from_der(root.as_ref())
                .map_err(|e| format!("an extra root cannot be used: {e}"))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some(host) = self.options.url.host_str() {
            // The URL names no port, so the connection goes to addr's port.
            builder = builder.resolve(host, self.addr);
        }
        builder.build().map_err(|e| e.to_string())
    }

    fn endpoint(&self, path: &str) -> String {
        routes::url(&self.options.url, path)
    }

    /// `GET /.well-known/oauth-authorization-server`.
    async fn metadata(&self) -> Check {
        const ID: &str = "metadata";
        let Ok(http) = self.http(false) else {
            return Check::skip(ID, "no HTTP client");
        };
        let response = match http.get(self.endpoint(routes::METADATA)).send().await {
            Ok(r) => r,
            Err(e) => {
                return Check::fail(
                    ID,
                    format!("no answer: {}", describe(&e)),
                    "check that the server runs and the URL reaches it",
                );
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Check::warn(
                ID,
                format!("the metadata document answered {status}"),
                "Alexa does not read it, but this server always serves it: is the URL pointing at the right server?",
            );
        }
        let Ok(doc) = response.json::<Value>().await else {
            return Check::fail(
                ID,
                "the metadata document is not JSON",
                "is something else answering on this URL?",
            );
        };
        let field = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(authorize), Some(token)) =
            (field("authorization_endpoint"), field("token_endpoint"))
        else {
            return Check::fail(
                ID,
                "the metadata names no authorization or token endpoint",
                "upgrade the server",
            );
        };
        let ours = |u: &str| {
            Url::parse(u).is_ok_and(|u| {
                u.scheme() == self.options.url.scheme()
                    && u.host_str() == self.options.url.host_str()
            })
        };
        if !ours(&authorize) || !ours(&token) {
            return Check::fail(
                ID,
                format!(
                    "the server advertises {authorize} and {token}, not URLs under {}",
                    self.options.url
                ),
                "set server.publicUrl (spec.host in the cluster) to the URL Alexa uses",
            );
        }
        Check::pass(
            ID,
            format!("Authorization URI {authorize}; Access Token URI {token}"),
        )
    }

    /// The authorize endpoint with an unknown client: a proper error page.
    async fn authorize_endpoint(&self) -> Check {
        const ID: &str = "authorize.endpoint";
        let Ok(http) = self.http(false) else {
            return Check::skip(ID, "no HTTP client");
        };
        let mut url = match Url::parse(&self.endpoint(routes::AUTHORIZE)) {
            Ok(u) => u,
            Err(e) => return Check::fail(ID, e.to_string(), "fix the URL"),
        };
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", PROBE_CLIENT_ID)
            .append_pair("redirect_uri", "https://doctor.invalid/callback")
            .append_pair("state", "doctor");
        match http.get(url).send().await {
            Ok(r) if r.status().is_server_error() => Check::fail(
                ID,
                format!("an unknown client got {}", r.status()),
                "the server must answer bad requests with an error page, never a 5xx: see its log",
            ),
            Ok(r) if r.status().is_client_error() => Check::pass(
                ID,
                format!(
                    "answers an invalid request with an error page ({})",
                    r.status()
                ),
            ),
            Ok(r) => Check::warn(
                ID,
                format!(
                    "an unknown client got {} instead of an error page",
                    r.status()
                ),
                "the authorize endpoint should refuse clients it does not know before any login",
            ),
            Err(e) => Check::fail(
                ID,
                format!("no answer: {}", describe(&e)),
                "check that the server runs and the URL reaches it",
            ),
        }
    }

    /// Wrong credentials under both schemes: JSON `invalid_client`, not a 5xx.
    async fn token_errors(&mut self) -> Check {
        const ID: &str = "token.errors";
        let mut seen = Vec::new();
        for scheme in [Scheme::Basic, Scheme::Body] {
            let probe = Credentials {
                id: PROBE_CLIENT_ID.into(),
                secret: "wrong-secret".into(),
            };
            let answer = self
                .token(
                    scheme,
                    &probe,
                    &[("grant_type", "authorization_code"), ("code", "doctor")],
                )
                .await;
            match answer {
                Ok((status, body))
                    if (status == 400 || status == 401)
                        && body.get("error").and_then(Value::as_str) == Some("invalid_client") =>
                {
                    seen.push(format!("{scheme:?}: {status} invalid_client"));
                }
                Ok((status, body)) => {
                    return Check::fail(
                        ID,
                        format!(
                            "wrong credentials by {scheme:?} got {status} {}",
                            truncate(&body.to_string())
                        ),
                        "the token endpoint must answer RFC 6749 JSON errors (401 invalid_client); Alexa shows nothing otherwise",
                    );
                }
                Err(e) => {
                    return Check::fail(
                        ID,
                        format!("wrong credentials by {scheme:?}: {e}"),
                        "the token endpoint must answer JSON errors",
                    );
                }
            }
        }
        Check::pass(
            ID,
            format!("bad credentials get JSON errors ({})", seen.join(", ")),
        )
    }

    /// The three regional redirect URLs of the vendor id, as the authorize
    /// endpoint judges them.
    async fn regions(&self) -> Check {
        const ID: &str = "redirect.regions";
        let (Some(vendor), Some(client)) = (&self.options.vendor_id, &self.options.client) else {
            return Check::skip(
                ID,
                "give --vendor-id and --client-id to check Alexa's redirect URLs",
            );
        };
        let Ok(http) = self.http(false) else {
            return Check::skip(ID, "no HTTP client");
        };
        let pair = PkcePair::new();
        let mut missing = Vec::new();
        for (uri, region) in alexa_redirect_uris(vendor).iter().zip(REGIONS) {
            let url = self.authorize_url(&client.id, uri, "doctor", Some(&pair));
            match http.get(url).send().await {
                // A login page, or an error sent to the redirect URI: registered.
                Ok(r) if r.status() == StatusCode::OK => {}
                Ok(r)
                    if r.status().is_redirection()
                        && location(&r).is_some_and(|l| l.starts_with(uri.as_str())) => {}
                Ok(_) => missing.push(region),
                Err(e) => {
                    return Check::fail(
                        ID,
                        format!("no answer: {}", describe(&e)),
                        "check that the server runs",
                    );
                }
            }
        }
        if missing.is_empty() {
            Check::pass(
                ID,
                format!("all three regions' redirect URLs are registered for {vendor}"),
            )
        } else {
            Check::fail(
                ID,
                format!(
                    "not registered for client {}: {} (users of that region cannot link)",
                    client.id,
                    missing.join(", ")
                ),
                "set the client's alexaVendorId (it registers all three), or add the missing https://<region host>/api/skill/link/<vendorId> URLs to redirectUris",
            )
        }
    }

    fn authorize_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        pkce: Option<&PkcePair>,
    ) -> String {
        let mut url = match Url::parse(&self.endpoint(routes::AUTHORIZE)) {
            Ok(u) => u,
            Err(_) => return self.endpoint(routes::AUTHORIZE),
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if let Some(scope) = &self.options.scope {
                q.append_pair("scope", scope);
            }
            if let Some(p) = pkce {
                q.append_pair("code_challenge", &p.challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        url.into()
    }

    /// A token request; its duration counts toward `token.latency`.
    async fn token(
        &mut self,
        scheme: Scheme,
        client: &Credentials,
        fields: &[(&str, &str)],
    ) -> Result<(u16, Value), String> {
        let http = self.http(false)?;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        let mut request = http.post(self.endpoint(routes::TOKEN));
        match scheme {
            Scheme::Basic => {
                // RFC 6749 2.3.1: id and secret are form-urlencoded first.
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                request = request.basic_auth(enc(&client.id), Some(enc(&client.secret)));
            }
            Scheme::Body => {
                form.push(("client_id", &client.id));
                form.push(("client_secret", &client.secret));
            }
        }
        let started = Instant::now();
        let response = request.form(&form).send().await;
        self.latencies.push(started.elapsed());
        let response = response.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(|e| describe(&e))?;
        let body = serde_json::from_str(&text)
            .map_err(|_| format!("{status} with a body that is not JSON: {}", truncate(&text)))?;
        Ok((status, body))
    }

    /// Walks authorize -> login -> consent as the user's browser does and
    /// returns the code Alexa would receive.
    async fn obtain_code(
        &self,
        client: &Credentials,
        user: &Credentials,
        redirect_uri: &str,
        pkce: Option<&PkcePair>,
    ) -> Result<String, LinkError> {
        let browser = self.http(true).map_err(LinkError::Broken)?;
        let state = random_nonce();
        let send = |r: reqwest::RequestBuilder| async move {
            r.send().await.map_err(|e| LinkError::Broken(describe(&e)))
        };
        let page =
            send(browser.get(self.authorize_url(&client.id, redirect_uri, &state, pkce))).await?;
        let mut answer = match page.status() {
            StatusCode::OK => {
                let html = page
                    .text()
                    .await
                    .map_err(|e| LinkError::Broken(describe(&e)))?;
                let (Some(request), Some(csrf)) =
                    (hidden_field(&html, "request"), hidden_field(&html, "csrf"))
                else {
                    return Err(LinkError::Broken(
                        "the authorize page has no login form to script (an upstream OIDC login cannot be driven by the doctor)".into(),
                    ));
                };
                let login = send(browser.post(self.endpoint(routes::LOGIN)).form(&[
                    ("request", request.as_str()),
                    ("csrf", csrf.as_str()),
                    ("username", user.id.as_str()),
                    ("password", user.secret.as_str()),
                ]))
                .await?;
                if !login.status().is_redirection() {
                    return Err(LinkError::LoginRejected);
                }
                let next = self.absolute(location(&login).unwrap_or_default())?;
                send(browser.get(next)).await?
            }
            s if s.is_redirection() => page,
            s => {
                return Err(LinkError::Broken(format!(
                    "the authorize endpoint answered {s}"
                )));
            }
        };
        if answer.status() == StatusCode::OK {
            let html = answer
                .text()
                .await
                .map_err(|e| LinkError::Broken(describe(&e)))?;
            let (Some(request), Some(csrf)) =
                (hidden_field(&html, "request"), hidden_field(&html, "csrf"))
            else {
                return Err(LinkError::Broken(
                    "after login, neither a redirect nor a consent form".into(),
                ));
            };
            answer = send(browser.post(self.endpoint(routes::CONSENT)).form(&[
                ("request", request.as_str()),
                ("csrf", csrf.as_str()),
                ("decision", "allow"),
            ]))
            .await?;
        }
        let Some(target) = location(&answer) else {
            return Err(LinkError::Broken(format!(
                "expected a redirect to Alexa, got {}",
                answer.status()
            )));
        };
        if !target.starts_with(redirect_uri) {
            return Err(LinkError::Broken(format!(
                "redirected to {target}, not to Alexa's {redirect_uri}"
            )));
        }
        let params: Vec<(String, String)> = Url::parse(target)
            .map(|u| {
                u.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(error) = get("error") {
            return Err(LinkError::Refused {
                error,
                description: get("error_description").unwrap_or_default(),
            });
        }
        if get("state").as_deref() != Some(state.as_str()) {
            return Err(LinkError::Broken(
                "the redirect to Alexa does not carry the state Alexa sent: Alexa refuses such a link".into(),
            ));
        }
        get("code").ok_or_else(|| LinkError::Broken("the redirect to Alexa carries no code".into()))
    }

    fn absolute(&self, location: &str) -> Result<String, LinkError> {
        self.options
            .url
            .join(location)
            .map(String::from)
            .map_err(|_| LinkError::Broken(format!("unusable redirect {location:?}")))
    }

    /// A whole link with `scheme` and (or without) PKCE: the token response.
    async fn link(
        &mut self,
        client: &Credentials,
        user: &Credentials,
        redirect_uri: &str,
        scheme: Scheme,
        with_pkce: bool,
    ) -> Result<Value, LinkError> {
        let pair = PkcePair::new();
        let pkce = with_pkce.then_some(&pair);
        let code = self.obtain_code(client, user, redirect_uri, pkce).await?;
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
        ];
        if with_pkce {
            fields.push(("code_verifier", pair.verifier.as_str()));
        }
        match self.token(scheme, client, &fields).await {
            Ok((200, body)) if body.get("access_token").is_some() => Ok(body),
            Ok((status, body)) => Err(LinkError::Refused {
                error: body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned(),
                description: format!(
                    "{status} at the token endpoint: {}",
                    body.get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            }),
            Err(e) => Err(LinkError::Broken(e)),
        }
    }

    /// The whole link as Alexa does it, and what follows it.
    async fn links(&mut self) -> Vec<Check> {
        const IDS: [&str; 8] = [
            "link.client-auth",
            "link.pkce",
            "token.expires-in",
            "token.refresh-token",
            "refresh",
            "refresh.retry",
            "reciprocal",
            "link",
        ];
        let (Some(client), Some(user)) = (self.options.client.clone(), self.options.user.clone())
        else {
            return IDS[..6]
                .iter()
                .map(|id| Check::skip(id, "give the client's credentials and a test user to link"))
                .collect();
        };
        let redirect_uri = match (&self.options.redirect_uri, &self.options.vendor_id) {
            (Some(uri), _) => uri.clone(),
            (None, Some(vendor)) => alexa_redirect_uris(vendor)[0].clone(),
            (None, None) => {
                return IDS[..6]
                    .iter()
                    .map(|id| Check::skip(id, "give --vendor-id or --redirect-uri to link"))
                    .collect();
            }
        };
        let basic = self
            .link(&client, &user, &redirect_uri, Scheme::Basic, true)
            .await;
        let body = self
            .link(&client, &user, &redirect_uri, Scheme::Body, true)
            .await;
        let mut checks = Vec::new();
        if let (Err(LinkError::LoginRejected), Err(LinkError::LoginRejected)) = (&basic, &body) {
            checks.push(Check::fail(
                "link",
                format!("the test user {} could not log in", user.id),
                "check the user name and password given to the doctor",
            ));
            return checks;
        }
        checks.push(client_auth_check(&basic, &body));
        checks.push(
            self.pkce_check(&client, &user, &redirect_uri, &basic, &body)
                .await,
        );
        let Some(tokens) = basic.as_ref().ok().or(body.as_ref().ok()).cloned() else {
            for id in &IDS[2..6] {
                checks.push(Check::skip(id, "no link succeeded"));
            }
            return checks;
        };
        checks.push(expires_in_check(&tokens));
        let scheme = if basic.is_ok() {
            Scheme::Basic
        } else {
            Scheme::Body
        };
        match tokens.get("refresh_token").and_then(Value::as_str) {
            Some(refresh) => {
                checks.push(Check::pass(
                    "token.refresh-token",
                    "the token response carries a refresh token",
                ));
                checks.extend(self.refresh_checks(&client, scheme, refresh).await);
            }
            None => {
                checks.push(Check::fail(
                    "token.refresh-token",
                    "the token response has no refresh token: Alexa unlinks the user when the access token expires",
                    "allow the refresh_token grant for the client (grantTypes)",
                ));
                checks.push(Check::skip("refresh", "no refresh token"));
                checks.push(Check::skip("refresh.retry", "no refresh token"));
            }
        }
        if self.options.reciprocal {
            let access = tokens
                .get("access_token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            checks.push(self.reciprocal(&client, &access).await);
        }
        checks
    }

    async fn pkce_check(
        &mut self,
        client: &Credentials,
        user: &Credentials,
        redirect_uri: &str,
        basic: &Result<Value, LinkError>,
        body: &Result<Value, LinkError>,
    ) -> Check {
        const ID: &str = "link.pkce";
        let accepts_pkce = basic.is_ok() || body.is_ok();
        let without = self
            .link(client, user, redirect_uri, Scheme::Basic, false)
            .await;
        let requires = matches!(&without, Err(LinkError::Refused { description, .. }) if description.contains("code_challenge"));
        let accepts_without = without.is_ok();
        match self.options.console_pkce {
            Some(true) if !accepts_pkce => Check::fail(
                ID,
                "the Alexa console sends PKCE, and no link with PKCE succeeded",
                "see link.client-auth, or turn PKCE off in the console only if the server cannot do S256",
            ),
            Some(false) if requires => Check::fail(
                ID,
                "PKCE mismatch: the Alexa console has PKCE off, but the server requires a code_challenge, so every link fails",
                "turn PKCE on in the Alexa console (recommended), or set the client's pkce to OptionalInsecure",
            ),
            Some(false) if !accepts_without => Check::fail(
                ID,
                format!(
                    "the Alexa console has PKCE off, and a link without PKCE failed: {}",
                    without.err().map(|e| e.to_string()).unwrap_or_default()
                ),
                "turn PKCE on in the Alexa console",
            ),
            Some(on) => Check::pass(
                ID,
                format!(
                    "the console's PKCE {} matches the server",
                    if on { "on" } else { "off" }
                ),
            ),
            None if requires => Check::pass(
                ID,
                "the server requires PKCE (S256): the console's PKCE switch must be on",
            ),
            None if accepts_without && accepts_pkce => Check::pass(
                ID,
                "links work with and without PKCE; turn PKCE on in the console",
            ),
            None => Check::pass(
                ID,
                format!(
                    "with PKCE: {}; without: {}",
                    if accepts_pkce { "accepted" } else { "refused" },
                    if accepts_without {
                        "accepted"
                    } else {
                        "refused"
                    }
                ),
            ),
        }
    }

    async fn refresh_checks(
        &mut self,
        client: &Credentials,
        scheme: Scheme,
        refresh: &str,
    ) -> Vec<Check> {
        let fields = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
        let first = self.token(scheme, client, &fields).await;
        let successor = match &first {
            Ok((200, body)) if body.get("access_token").is_some() => body
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Ok((status, body)) => {
                return vec![
                    Check::fail(
                        "refresh",
                        format!("a refresh got {status} {}", truncate(&body.to_string())),
                        "Alexa refreshes about hourly: a refused refresh unlinks the user. See the server log",
                    ),
                    Check::skip("refresh.retry", "the refresh failed"),
                ];
            }
            Err(e) => {
                return vec![
                    Check::fail(
                        "refresh",
                        format!("a refresh failed: {e}"),
                        "see the server log",
                    ),
                    Check::skip("refresh.retry", "the refresh failed"),
                ];
            }
        };
        let mut checks = vec![Check::pass("refresh", "a refresh succeeded")];
        // Alexa retries when an answer is lost: the same refresh token again.
        let retry = self.token(scheme, client, &fields).await;
        checks.push(match retry {
            Ok((200, body)) => {
                let same = body.get("refresh_token").and_then(Value::as_str).map(str::to_owned) == successor;
                Check::pass(
                    "refresh.retry",
                    if same {
                        "a retried refresh got the same successor (grace window)"
                    } else {
                        "a retried refresh succeeded"
                    },
                )
            }
            Ok((status, body)) => Check::fail(
                "refresh.retry",
                format!("a retried refresh got {status} {}: one lost answer unlinks the user", truncate(&body.to_string())),
                "keep a grace window for rotated refresh tokens (refresh.gracePeriodSeconds, default 60)",
            ),
            Err(e) => Check::fail("refresh.retry", format!("a retried refresh failed: {e}"), "see the server log"),
        });
        checks
    }

    /// Alexa's reciprocal call with a code LWA will refuse: reachable, our
    /// bearer accepted, LWA reached.
    async fn reciprocal(&self, client: &Credentials, access_token: &str) -> Check {
        const ID: &str = "reciprocal";
        let Ok(http) = self.http(false) else {
            return Check::skip(ID, "no HTTP client");
        };
        let answer = http
            .post(self.endpoint(routes::RECIPROCAL_AUTHORIZE))
            .bearer_auth(access_token)
            .form(&[
                ("grant_type", "reciprocal_authorization_code"),
                ("code", "alexa-link-doctor-invalid-code"),
                ("client_id", client.id.as_str()),
            ])
            .send()
            .await;
        let response = match answer {
            Ok(r) => r,
            Err(e) => {
                return Check::fail(
                    ID,
                    format!("no answer: {}", describe(&e)),
                    "check the server",
                );
            }
        };
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match (status, error) {
            (400, "invalid_grant") => Check::pass(
                ID,
                "the reciprocal endpoint accepts Alexa's bearer token and reaches Login with Amazon (which refused the doctor's fake code, as it should)",
            ),
            (404, _) => Check::fail(
                ID,
                "mutual linking is not configured on this server",
                "configure partners[] (spec.partner) with the LWA client of the skill",
            ),
            (401 | 403, _) => Check::fail(
                ID,
                format!(
                    "the reciprocal endpoint refused the access token Alexa would use ({status} {error})"
                ),
                "the partner's linkedClients must include the Alexa client",
            ),
            (502 | 503, _) => Check::fail(
                ID,
                format!(
                    "Login with Amazon could not be used ({status}: {})",
                    body.get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
                "check the partner's LWA client id and secret, its region, and outbound access to the LWA token endpoint",
            ),
            _ => Check::fail(
                ID,
                format!("unexpected answer {status} {}", truncate(&body.to_string())),
                "see the server log",
            ),
        }
    }

    /// `token.latency`: the slowest token answer against Alexa's budget.
    fn latency(&self) -> Check {
        const ID: &str = "token.latency";
        let Some(max) = self.latencies.iter().max() else {
            return Check::skip(ID, "no token request was made");
        };
        let budget = self.options.budget;
        let detail = format!(
            "slowest of {} token answers: {} ms (Alexa's budget: {} ms)",
            self.latencies.len(),
            max.as_millis(),
            budget.as_millis()
        );
        if *max > budget {
            Check::fail(
                ID,
                detail,
                "Alexa gives up after its budget and the user sees \"unable to link\": look at the store's latency, the identity backend and the network path",
            )
        } else if *max > budget / 2 {
            Check::warn(
                ID,
                detail,
                "close to Alexa's budget: a slow day will fail links",
            )
        } else {
            Check::pass(ID, detail)
        }
    }
}

fn client_auth_check(basic: &Result<Value, LinkError>, body: &Result<Value, LinkError>) -> Check {
    const ID: &str = "link.client-auth";
    match (basic, body) {
        (Ok(_), Ok(_)) => Check::pass(
            ID,
            "links succeed with HTTP Basic and with credentials in the body (either console Authentication Scheme works)",
        ),
        (Ok(_), Err(e)) => Check::warn(
            ID,
            format!("only HTTP Basic works; credentials in the body: {e}"),
            "set the console's Authentication Scheme to HTTP Basic",
        ),
        (Err(e), Ok(_)) => Check::warn(
            ID,
            format!("only credentials in the body work; HTTP Basic: {e}"),
            "set the console's Authentication Scheme to \"Credentials in request body\"",
        ),
        (Err(a), Err(b)) => Check::fail(
            ID,
            format!("no link succeeded. HTTP Basic: {a}. Body: {b}"),
            "compare the console's Client ID, Client Secret and redirect URLs with the client's configuration",
        ),
    }
}

fn expires_in_check(tokens: &Value) -> Check {
    const ID: &str = "token.expires-in";
    match tokens.get("expires_in").and_then(Value::as_u64) {
        Some(s) if s >= 360 => {
            Check::pass(ID, format!("expires_in {s} s (Alexa needs at least 360)"))
        }
        Some(s) => Check::fail(
            ID,
            format!("expires_in {s} s: Alexa refuses access tokens that live under 360 s"),
            "set the client's accessTokenLifetimeSeconds to 360 or more (3600 is usual)",
        ),
        None => Check::fail(
            ID,
            "the token response has no expires_in",
            "answer expires_in (RFC 6749 5.1); Alexa needs it to refresh in time",
        ),
    }
}

/// A PKCE verifier and its S256 challenge.
struct PkcePair {
    verifier: String,
    challenge: String,
}

impl PkcePair {
    fn new() -> PkcePair {
        // Two nonces: 86 base64url characters, inside RFC 7636's 43..128.
        let verifier = format!("{}{}", random_nonce(), random_nonce());
        let challenge = pkce::challenge_of(&verifier);
        PkcePair {
            verifier,
            challenge,
        }
    }
}

fn location(response: &reqwest::Response) -> Option<&str> {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
}

/// An HTTP client error with its causes, which is where the useful part is.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn truncate(s: &str) -> String {
    if s.len() <= 200 {
        return s.to_owned();
    }
    let mut end = 200;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}
