//! Every path the server serves, named once: the routers and the RFC 8414
//! metadata document are both built from these constants, so what is
//! advertised is what is served.

/// Authorization endpoint (RFC 6749 3.1): login and consent pages.
pub const AUTHORIZE: &str = "/oauth/authorize";
/// Where the login form posts.
pub const LOGIN: &str = "/oauth/login";
/// Where an upstream OpenID Provider sends the browser back (identity
/// backend `oidc`); register `<publicUrl>/oauth/callback` there.
pub const CALLBACK: &str = "/oauth/callback";
/// Where the consent form posts.
pub const CONSENT: &str = "/oauth/consent";
/// Token endpoint (RFC 6749 3.2).
pub const TOKEN: &str = "/oauth/token";
/// Revocation endpoint (RFC 7009).
pub const REVOKE: &str = "/oauth/revoke";
/// Introspection endpoint (RFC 7662).
pub const INTROSPECT: &str = "/oauth/introspect";
/// Authorization server metadata (RFC 8414).
pub const METADATA: &str = "/.well-known/oauth-authorization-server";
/// Mutual account linking: Alexa posts the LWA authorization code here.
pub const RECIPROCAL_AUTHORIZE: &str = "/api/reciprocal/authorize";
/// Mutual account linking: the skill developer's app fetches LWA tokens here.
pub const PARTNER_TOKEN: &str = "/api/partner/token";

/// The signed-in user's linked clients, with Unlink buttons.
pub const LINKS: &str = "/oauth/links";

/// Admin port: liveness.
pub const HEALTHZ: &str = "/healthz";
/// Admin port: readiness (the store answers).
pub const READYZ: &str = "/readyz";
/// Admin port: Prometheus metrics.
pub const METRICS: &str = "/metrics";
/// Admin port: revoke every grant of a user (form field `user_id`).
pub const REVOKE_USER: &str = "/revoke-user";

/// `base` (the public URL) joined with `path`.
pub fn url(base: &url::Url, path: &str) -> String {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    s
}
