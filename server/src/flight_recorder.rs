//! The flight recorder: the last linking attempts of each client, each
//! failure with a one-line hint, readable on the admin port.
//!
//! When a user sees "unable to link", Alexa tells the developer nothing. The
//! recorder keeps what the server saw of each step Alexa drove (the
//! authorization request, the code issued, the token request) without
//! anything secret: no token, code, secret, password or user name; only
//! whether PKCE came, which client-authentication scheme was used, the
//! redirect URI, the outcome and how long it took. Memory is bounded: a
//! ring of [`DEFAULT_CAPACITY`] entries per configured client, plus one ring
//! for requests naming no known client, so a stranger cannot grow it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;

use crate::metrics::Metrics;

/// Entries kept per client.
pub const DEFAULT_CAPACITY: usize = 50;

/// The ring for requests whose client id is not configured.
pub const UNKNOWN_CLIENT: &str = "(unknown client)";

/// Longest text kept from a request (redirect URIs, descriptions).
const MAX_TEXT: usize = 256;

/// The step of a link the entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `GET /oauth/authorize` was refused.
    Authorize,
    /// A code was issued and the browser sent back to Alexa.
    CodeIssued,
    /// `POST /oauth/token`.
    Token,
}

impl Step {
    /// The `step` label of `alexa_link_linking_steps_total`.
    pub fn label(self) -> &'static str {
        match self {
            Step::Authorize => "authorize",
            Step::CodeIssued => "code_issued",
            Step::Token => "token",
        }
    }
}

/// The `grant_type` label: the grant types this server knows, else `other`
/// (the value is the client's, so it must not become a label as sent).
fn grant_label(grant_type: Option<&str>) -> &'static str {
    match grant_type {
        None => "",
        Some("authorization_code") => "authorization_code",
        Some("refresh_token") => "refresh_token",
        Some("client_credentials") => "client_credentials",
        Some(_) => "other",
    }
}

/// How the client authenticated at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic` (the console's "HTTP Basic").
    Basic,
    /// `client_secret` in the body ("Credentials in request body").
    Body,
    /// No credentials.
    None,
}

/// One recorded step.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    /// Which step.
    pub step: Step,
    /// At the token endpoint: the grant type asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_type: Option<String>,
    /// `ok`, or the OAuth error code.
    pub outcome: &'static str,
    /// The error's description, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The redirect URI of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Whether PKCE came: a `code_challenge` at authorize, a
    /// `code_verifier` at the token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkce: Option<bool>,
    /// At the token endpoint: how the client authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuth>,
    /// How long the server took, in milliseconds.
    pub latency_ms: u64,
    /// The failure's cause, a stable id (also the `cause` label of
    /// `alexa_link_linking_failures_total`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// What to do about the failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<&'static str>,
}

impl Entry {
    /// An entry for `step` with `outcome`; the rest is filled by the caller.
    pub fn new(at: i64, step: Step, outcome: &'static str) -> Entry {
        Entry {
            at,
            step,
            grant_type: None,
            outcome,
            error_description: None,
            redirect_uri: None,
            pkce: None,
            client_auth: None,
            latency_ms: 0,
            cause: None,
            hint: None,
        }
    }

    /// Keeps at most [`MAX_TEXT`] bytes of request-controlled text.
    pub fn clip(text: &str) -> String {
        if text.len() <= MAX_TEXT {
            return text.to_owned();
        }
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &text[..end])
    }
}

/// The recorder. One per server; cheap to share behind the app state.
#[derive(Debug)]
pub struct FlightRecorder {
    capacity: usize,
    rings: Mutex<HashMap<String, VecDeque<Entry>>>,
}

impl FlightRecorder {
    /// A recorder for these configured clients, `capacity` entries each.
    pub fn new<'a>(clients: impl IntoIterator<Item = &'a str>, capacity: usize) -> FlightRecorder {
        let mut rings: HashMap<String, VecDeque<Entry>> = clients
            .into_iter()
            .map(|id| (id.to_owned(), VecDeque::new()))
            .collect();
        rings.insert(UNKNOWN_CLIENT.to_owned(), VecDeque::new());
        FlightRecorder {
            capacity: capacity.max(1),
            rings: Mutex::new(rings),
        }
    }

    /// Records `entry` for `client_id`, forgetting the oldest when full,
    /// and counts a failure by its cause.
    pub fn record(&self, metrics: &Metrics, client_id: &str, mut entry: Entry) {
        if let Some(hint) = hint(&entry) {
            entry.cause = Some(hint.cause);
            entry.hint = Some(hint.text);
            metrics.linking_failure(hint.cause);
        } else if entry.outcome != "ok" {
            metrics.linking_failure("other");
        }
        let mut rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        // Unknown ids share one ring: the map's keys never grow.
        let key = if rings.contains_key(client_id) {
            client_id
        } else {
            UNKNOWN_CLIENT
        };
        metrics.linking_step(
            key,
            entry.step.label(),
            grant_label(entry.grant_type.as_deref()),
            entry.outcome,
        );
        if let Some(ring) = rings.get_mut(key) {
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(entry);
        }
    }

    /// Newest first, per client; only `client_id`'s when given.
    pub fn snapshot(&self, client_id: Option<&str>) -> Vec<(String, Vec<Entry>)> {
        let rings = self.rings.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, Vec<Entry>)> = rings
            .iter()
            .filter(|(id, _)| client_id.is_none_or(|c| c == id.as_str()))
            .map(|(id, ring)| (id.clone(), ring.iter().rev().cloned().collect()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// A failure's cause and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint {
    /// A stable id, e.g. `pkce_missing`.
    pub cause: &'static str,
    /// One line for the developer.
    pub text: &'static str,
}

impl Hint {
    const fn new(cause: &'static str, text: &'static str) -> Hint {
        Hint { cause, text }
    }
}

/// The recorder as a small HTML page: one table per client, newest first.
pub fn page(snapshot: &[(String, Vec<Entry>)]) -> String {
    fn esc(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    }
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>alexa-link flight recorder</title><style>body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse;width:100%;margin-bottom:2em}td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;vertical-align:top}.fail{color:#a00}</style></head><body><h1>Flight recorder</h1>",
    );
    for (client, entries) in snapshot {
        html.push_str(&format!(
            "<h2>{}</h2><table><tr><th>time (unix)</th><th>step</th><th>outcome</th><th>PKCE</th><th>client auth</th><th>redirect URI</th><th>ms</th><th>hint</th></tr>",
            esc(client)
        ));
        if entries.is_empty() {
            html.push_str("<tr><td colspan=\"8\">nothing recorded yet</td></tr>");
        }
        for e in entries {
            let class = if e.outcome == "ok" {
                ""
            } else {
                " class=\"fail\""
            };
            html.push_str(&format!(
                "<tr{class}><td>{}</td><td>{}{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.at,
                match e.step {
                    Step::Authorize => "authorize",
                    Step::CodeIssued => "code issued",
                    Step::Token => "token",
                },
                e.grant_type.as_deref().map(|g| format!(" ({})", esc(g))).unwrap_or_default(),
                esc(e.outcome),
                e.error_description.as_deref().map(|d| format!(": {}", esc(d))).unwrap_or_default(),
                e.pkce.map_or("", |p| if p { "yes" } else { "no" }),
                match e.client_auth {
                    Some(ClientAuth::Basic) => "HTTP Basic",
                    Some(ClientAuth::Body) => "body",
                    Some(ClientAuth::None) => "none",
                    None => "",
                },
                esc(e.redirect_uri.as_deref().unwrap_or_default()),
                e.latency_ms,
                esc(e.hint.unwrap_or_default()),
            ));
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>");
    html
}

/// The one-line hint for a failed step: what the developer should change.
/// Pure; keyed on the step, the OAuth error code and the server's own
/// error descriptions (their wording is pinned by this module's tests).
pub fn hint(entry: &Entry) -> Option<Hint> {
    let d = entry.error_description.as_deref().unwrap_or_default();
    let grant = entry.grant_type.as_deref().unwrap_or_default();
    Some(match (entry.step, entry.outcome) {
        (_, "ok") => return None,
        (Step::Authorize, "invalid_request") if d.contains("code_challenge is required") => {
            Hint::new(
                "pkce_missing",
                "no code_challenge: enable PKCE in the Alexa console, or set the client's pkce to OptionalInsecure",
            )
        }
        (Step::Authorize, "invalid_request") if d.contains("code_challenge") => Hint::new(
            "pkce_invalid",
            "a bad PKCE challenge: Alexa sends S256; check what else calls this client",
        ),
        (Step::Authorize, "untrusted_request") if d.contains("redirect URI") => Hint::new(
            "redirect_uri_unregistered",
            "the redirect URI is not registered for this client: set alexaVendorId (all three regions) or add the exact URI to redirectUris",
        ),
        (Step::Authorize, "untrusted_request") => Hint::new(
            "unknown_client",
            "unknown client: the console's \"Your Client ID\" must equal a configured clientId",
        ),
        (Step::Authorize, "invalid_scope") => Hint::new(
            "scope_not_allowed",
            "a scope Alexa asks for is not allowed: compare the console's Scope list with the client's scopes",
        ),
        (Step::Authorize, "unauthorized_client") => Hint::new(
            "code_grant_not_allowed",
            "the client may not use the authorization code grant: add authorization_code to its grantTypes",
        ),
        (Step::Token, "invalid_client") if d.contains("public client") => Hint::new(
            "public_client_sent_secret",
            "a public client sent a secret or HTTP Basic: the app must send client_id alone in the body, and a code_verifier",
        ),
        (Step::Token, "invalid_client") => match entry.client_auth {
            Some(ClientAuth::Basic) => Hint::new(
                "client_auth_basic_failed",
                "client authentication by HTTP Basic failed: paste the configured secret into the console's Client Secret (Authentication Scheme: HTTP Basic)",
            ),
            Some(ClientAuth::Body) => Hint::new(
                "client_auth_body_failed",
                "client authentication in the body failed: paste the configured secret into the console's Client Secret (Authentication Scheme: Credentials in request body)",
            ),
            _ => Hint::new(
                "client_auth_missing",
                "no client credentials came: set the console's Client Secret and Authentication Scheme",
            ),
        },
        (Step::Token, "invalid_grant") if d.contains("code_verifier") => Hint::new(
            "pkce_verifier_failed",
            "PKCE failed at the token endpoint: the console's PKCE setting must match the client's (a verifier is needed when a challenge was sent)",
        ),
        (Step::Token, "invalid_grant") if d.contains("redirect_uri") => Hint::new(
            "redirect_uri_mismatch",
            "the token request's redirect_uri differs from the authorization request's",
        ),
        (Step::Token, "invalid_grant") if grant == "authorization_code" => Hint::new(
            "code_invalid",
            "the code was unknown, expired or already used: Alexa must redeem it once, within its lifetime (slow or retried token answers cause this)",
        ),
        (Step::Token, "invalid_grant") if grant == "refresh_token" => Hint::new(
            "refresh_refused",
            "a refresh was refused: Alexa will unlink this user. Reuse after the grace window revokes the grant (refresh.gracePeriodSeconds)",
        ),
        (Step::Token, "unauthorized_client") => Hint::new(
            "grant_not_allowed",
            "the client may not use this grant: add it to grantTypes",
        ),
        (Step::Token, "unsupported_grant_type") => Hint::new(
            "grant_type_unsupported",
            "the grant_type is not one the server supports",
        ),
        (_, "temporarily_unavailable" | "server_error") => Hint::new(
            "server_unavailable",
            "the server could not answer: see its log and /readyz (is the store reachable?)",
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError};
    use crate::oauth::form::Params;

    fn failed(step: Step, outcome: &'static str, description: &str) -> Entry {
        let mut e = Entry::new(0, step, outcome);
        e.error_description = Some(description.to_owned());
        e
    }

    #[test]
    fn rings_are_bounded_per_client_and_strangers_share_one() {
        let recorder = FlightRecorder::new(["alexa"], 3);
        let metrics = Metrics::new();
        for i in 0..5 {
            recorder.record(&metrics, "alexa", Entry::new(i, Step::CodeIssued, "ok"));
        }
        for i in 0..100 {
            recorder.record(
                &metrics,
                &format!("stranger-{i}"),
                Entry::new(i, Step::Authorize, "untrusted_request"),
            );
        }
        let snap = recorder.snapshot(None);
        assert_eq!(snap.len(), 2, "no ring per stranger");
        let alexa = &snap.iter().find(|(id, _)| id == "alexa").expect("alexa").1;
        assert_eq!(
            alexa.iter().map(|e| e.at).collect::<Vec<_>>(),
            [4, 3, 2],
            "newest first, oldest forgotten"
        );
        assert_eq!(recorder.snapshot(Some(UNKNOWN_CLIENT))[0].1.len(), 3);
        assert!(
            metrics
                .encode()
                .contains(r#"alexa_link_linking_failures_total{cause="unknown_client"} 100"#),
            "every failure is counted by cause"
        );
        // Per client for the dashboards; strangers under one label value.
        let text = metrics.encode();
        assert!(
            text.contains(r#"alexa_link_linking_steps_total{client="alexa",step="code_issued",grant_type="",outcome="ok"} 5"#),
            "{text}"
        );
        assert!(text.contains(r#"alexa_link_linking_steps_total{client="(unknown client)",step="authorize",grant_type="",outcome="untrusted_request"} 100"#));
        let mut refresh = Entry::new(9, Step::Token, "invalid_grant");
        refresh.grant_type = Some("refresh_token".into());
        recorder.record(&metrics, "alexa", refresh);
        let mut odd = Entry::new(9, Step::Token, "unsupported_grant_type");
        odd.grant_type = Some("made-up".into());
        recorder.record(&metrics, "alexa", odd);
        let text = metrics.encode();
        assert!(text.contains(
            r#"client="alexa",step="token",grant_type="refresh_token",outcome="invalid_grant"} 1"#
        ));
        assert!(
            text.contains(r#"grant_type="other",outcome="unsupported_grant_type"} 1"#),
            "{text}"
        );
    }

    #[test]
    fn clip_bounds_request_text_on_a_char_boundary() {
        let long = "é".repeat(300);
        let clipped = Entry::clip(&long);
        assert!(clipped.len() <= MAX_TEXT + 3);
        assert!(clipped.ends_with("..."));
    }

    /// The public client's refusal, from the real error, gets its own hint.
    #[test]
    fn a_public_client_sending_a_secret_gets_its_hint() {
        let error = crate::oauth::error::OAuthError::from(
            crate::oauth::clients::AuthFailure::SecretFromPublicClient,
        );
        let mut entry = failed(Step::Token, error.code.as_str(), &error.description);
        entry.client_auth = Some(ClientAuth::Body);
        assert_eq!(
            hint(&entry).expect("hint").cause,
            "public_client_sent_secret"
        );
    }

    /// The hints key on the server's own descriptions: produce them with the
    /// real validation so a reworded message breaks this test, not the hint.
    #[test]
    fn a_missing_code_challenge_gets_the_pkce_hint() {
        let config: crate::config::ClientConfig = serde_yaml::from_str(
            "clientId: alexa\nclientSecretFile: /x\nalexaVendorId: M1\nscopes: [profile]\n",
        )
        .expect("client");
        let clients = crate::oauth::clients::ClientRegistry::new(&[config], |_, _| {
            Ok("0123456789abcdef".into())
        })
        .expect("registry");
        let params = Params::parse(
            b"response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Flayla.amazon.com%2Fapi%2Fskill%2Flink%2FM1&state=s",
        )
        .expect("params");
        let Err(AuthorizeError::Redirect { error, .. }) =
            AuthorizationRequest::validate(&params, &clients)
        else {
            panic!("a request without PKCE is refused with a redirect");
        };
        let entry = failed(Step::Authorize, error.code.as_str(), &error.description);
        assert!(
            hint(&entry)
                .expect("hint")
                .text
                .contains("enable PKCE in the Alexa console")
        );

        let params = Params::parse(
            b"response_type=code&client_id=alexa&redirect_uri=https%3A%2F%2Flayla.amazon.com%2Fapi%2Fskill%2Flink%2FM2&state=s",
        )
        .expect("params");
        let Err(AuthorizeError::Untrusted(message)) =
            AuthorizationRequest::validate(&params, &clients)
        else {
            panic!("another vendor's redirect URI is untrusted");
        };
        let entry = failed(Step::Authorize, "untrusted_request", &message);
        assert_eq!(
            hint(&entry).expect("hint").cause,
            "redirect_uri_unregistered"
        );
    }

    #[test]
    fn token_failures_name_the_scheme_and_the_grant() {
        let mut basic = failed(
            Step::Token,
            "invalid_client",
            "client authentication failed",
        );
        basic.client_auth = Some(ClientAuth::Basic);
        assert!(hint(&basic).expect("hint").text.contains("HTTP Basic"));
        let mut body = basic.clone();
        body.client_auth = Some(ClientAuth::Body);
        assert!(hint(&body).expect("hint").text.contains("request body"));
        let mut refresh = failed(
            Step::Token,
            "invalid_grant",
            "the refresh token is not valid",
        );
        refresh.grant_type = Some("refresh_token".into());
        assert!(hint(&refresh).expect("hint").text.contains("unlink"));
        assert_eq!(hint(&Entry::new(0, Step::Token, "ok")), None);
    }
}
