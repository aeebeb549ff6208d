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
/// The JWT access tokens' signing keys (RFC 7517 JWK Set).
pub const JWKS: &str = "/oauth/jwks";
/// Authorization server metadata (RFC 8414).
pub const METADATA: &str = "/.well-known/oauth-authorization-server";
/// Mutual account linking: Alexa posts the LWA authorization code here.
pub const RECIPROCAL_AUTHORIZE: &str = "/api/reciprocal/authorize";
/// Mutual account linking: the skill developer's app fetches LWA tokens here.
pub const PARTNER_TOKEN: &str = "/api/partner/token";
/// A skill backend forwards an `Alexa.Authorization.AcceptGrant` (smart
/// home) or `Alexa.Authorization.Grant` (custom skill) here.
pub const ALEXA_ACCEPT_GRANT: &str = "/api/alexa/accept-grant";
/// A skill backend forwards Alexa's skill events (`AlexaSkillEvent.*`) here.
pub const ALEXA_SKILL_EVENTS: &str = "/api/alexa/skill-events";

/// App-to-App: the app starts a linking (Alexa app and LWA URLs, state).
pub const APP_TO_APP_START: &str = "/api/app-to-app/start";
/// App-to-App: the app completes it with Amazon's code and the state.
pub const APP_TO_APP_COMPLETE: &str = "/api/app-to-app/complete";
/// App-to-App: the skill's enablement and link status at Alexa.
pub const APP_TO_APP_STATUS: &str = "/api/app-to-app/status";
/// App-to-App: disable the skill at Alexa and end the link.
pub const APP_TO_APP_UNLINK: &str = "/api/app-to-app/unlink";
/// App-to-App from the Alexa app: mint our code for a forwarded request.
pub const APP_TO_APP_AUTHORIZE: &str = "/api/app-to-app/authorize";
/// App-to-App web variant: the "Link with Alexa" page (under `/oauth`,
/// where the session cookie is sent).
pub const APP_TO_APP_LINK_PAGE: &str = "/oauth/app-to-app/link";
/// App-to-App web variant: where Amazon sends the browser back (register
/// `<publicUrl>/oauth/app-to-app/callback` as an allowed return URL at LWA).
pub const APP_TO_APP_CALLBACK: &str = "/oauth/app-to-app/callback";

/// The signed-in user's linked clients, with Unlink buttons.
pub const LINKS: &str = "/oauth/links";
/// Where the sign-out form posts.
pub const LOGOUT: &str = "/oauth/logout";

/// Admin port: liveness.
pub const HEALTHZ: &str = "/healthz";
/// Admin port: readiness (the store answers).
pub const READYZ: &str = "/readyz";
/// Admin port: Prometheus metrics.
pub const METRICS: &str = "/metrics";
/// Admin port: the last linking attempts per client, with hints (JSON, or
/// a page for a browser).
pub const FLIGHT_RECORDER: &str = "/flight-recorder";
/// Admin port: revoke every grant of a user (form field `user_id`).
pub const REVOKE_USER: &str = "/revoke-user";

/// `base` (the public URL) joined with `path`.
pub fn url(base: &url::Url, path: &str) -> String {
    let mut s = base.as_str().trim_end_matches('/').to_owned();
    s.push_str(path);
    s
}
