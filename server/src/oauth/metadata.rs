//! Authorization server metadata (RFC 8414), built from the route constants
//! and the configured clients at start.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::clients::ClientRegistry;
use crate::app::AppState;
use crate::config::PARTNER_TOKEN_SCOPE;
use crate::routes;

/// `GET /.well-known/oauth-authorization-server`: the document rendered at
/// start. Public and the same for everyone, so caches may keep it a while.
pub async fn metadata_document(State(app): State<AppState>) -> Response {
    public_document(
        app.metadata.clone(),
        "application/json",
        "public, max-age=300",
    )
}

/// `GET /oauth/jwks`: the public keys of JWT access tokens (RFC 7517), for
/// resource servers that verify them locally. 404 when none are configured.
pub async fn jwks_document(State(app): State<AppState>) -> Response {
    let Some(jwks) = app.jwks.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Short enough that a rotation's new key is picked up well before it
    // starts signing (see `accessTokenSigningKeyFiles`).
    public_document(jwks, "application/jwk-set+json", "public, max-age=300")
}

/// A document that is the same for everyone (metadata, keys, a branding
/// style sheet): its type, how long caches may keep it, and `nosniff`.
pub(crate) fn public_document(
    body: impl IntoResponse,
    content_type: &'static str,
    cache_control: &'static str,
) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The metadata document for `issuer`; `jwks`: JWT signing keys are
/// published (`jwks_uri`).
pub fn document(issuer: &url::Url, clients: &ClientRegistry, jwks: bool) -> Value {
    let mut grants = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for client in clients.iter() {
        grants.extend(client.config.grant_types.iter().map(|g| g.as_str()));
        // `partner_token` is our own API's permission, not something a
        // user is asked for: advertising it invites clients to request it.
        scopes.extend(
            client
                .config
                .scopes
                .iter()
                .filter(|s| *s != PARTNER_TOKEN_SCOPE)
                .cloned(),
        );
    }
    let secret_methods = vec!["client_secret_basic", "client_secret_post"];
    // `none` (RFC 7591 2): a public client sends its client_id alone. It may
    // revoke its own tokens (RFC 7009 2.1) but not introspect.
    let mut public_methods = secret_methods.clone();
    if clients.any_public() {
        public_methods.push("none");
    }
    let mut doc = json!({
        "issuer": issuer.as_str().trim_end_matches('/'),
        "authorization_endpoint": routes::url(issuer, routes::AUTHORIZE),
        "token_endpoint": routes::url(issuer, routes::TOKEN),
        "revocation_endpoint": routes::url(issuer, routes::REVOKE),
        "introspection_endpoint": routes::url(issuer, routes::INTROSPECT),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": grants,
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": public_methods,
        "revocation_endpoint_auth_methods_supported": public_methods,
        "introspection_endpoint_auth_methods_supported": secret_methods,
        "code_challenge_methods_supported": ["S256"],
        // RFC 9207: every authorization response carries `iss`.
        "authorization_response_iss_parameter_supported": true,
    });
    if jwks && let Some(map) = doc.as_object_mut() {
        map.insert("jwks_uri".into(), routes::url(issuer, routes::JWKS).into());
    }
    doc
}
