//! `POST /api/alexa/accept-grant`: a skill backend forwards the event-gateway
//! grant Alexa sent it, and we keep the user's Amazon tokens.
//!
//! A smart-home skill with "Send Alexa Events" receives
//! `Alexa.Authorization.AcceptGrant` (`payload.grant.code`, an LWA
//! authorization code, and `payload.grantee.token`, the access token we
//! issued to Alexa for the user); a custom skill receives an
//! `Alexa.Authorization.Grant` request (`request.body.grant.code`, with the
//! user's access token in `context.System.user.accessToken`). The backend
//! posts that JSON as it is (or just `{"grant":..,"grantee":..}`),
//! authenticated as a client with `partnerTokenAccess`.
//!
//! The grantee token decides the user: ours, unexpired, of an active grant,
//! issued to a client that a partner lists in `linkedClients`. The code is
//! then exchanged at that partner's LWA token endpoint and stored by
//! [`custody`]; `/api/partner/token` serves the Event Gateway token from
//! then on.
//!
//! Alexa retries a directive that failed or timed out, with the same code,
//! which LWA refuses the second time. So a code once exchanged is
//! remembered (its hash, in the store, for [`PROCESSED_CODE_SECONDS`], so
//! every replica knows) and the same code for the same user answers
//! success again. Every error is an OAuth JSON error the skill answers
//! Alexa with an `ErrorResponse` of type `ACCEPT_GRANT_FAILED`.

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::envelope::Context;
use crate::app::AppState;
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::partner::custody::{self, CustodyError, LinkOwner, Via};
use crate::partner::lwa::LwaError;
use crate::partner::{Partner, caller, not_configured};
use crate::peer::client_ip;
use crate::store::{AccessTokenRecord, ProcessedGrantCode};
use crate::tokens::TokenHash;

/// How long an exchanged code is remembered. LWA codes live five minutes;
/// Alexa's retries come within that.
pub const PROCESSED_CODE_SECONDS: i64 = 15 * 60;

/// How often a retry racing the first attempt looks for its outcome.
const POLL: Duration = Duration::from_millis(50);

/// The grant Alexa sent, as forwarded.
#[derive(Debug, PartialEq, Eq)]
pub struct ForwardedGrant {
    /// The LWA authorization code.
    pub code: String,
    /// Our access token for the user (`grantee.token`, or the custom
    /// skill's `context.System.user.accessToken`).
    pub grantee_token: String,
}

#[derive(Deserialize)]
struct Body {
    directive: Option<Directive>,
    request: Option<GrantRequest>,
    context: Option<Context>,
    grant: Option<Grant>,
    grantee: Option<Grantee>,
}

#[derive(Deserialize)]
struct Directive {
    header: Header,
    payload: Payload,
}

#[derive(Deserialize)]
struct Header {
    namespace: String,
    name: String,
}

#[derive(Deserialize)]
struct Payload {
    grant: Grant,
    grantee: Grantee,
}

#[derive(Deserialize)]
struct GrantRequest {
    #[serde(rename = "type")]
    kind: String,
    body: GrantRequestBody,
}

#[derive(Deserialize)]
struct GrantRequestBody {
    grant: Grant,
}

#[derive(Deserialize)]
struct Grant {
    #[serde(rename = "type")]
    kind: String,
    code: String,
}

#[derive(Deserialize)]
struct Grantee {
    #[serde(rename = "type")]
    kind: String,
    token: String,
}

impl ForwardedGrant {
    /// Reads the forwarded JSON: an `AcceptGrant` directive, a custom
    /// skill's `Alexa.Authorization.Grant` request envelope, or the bare
    /// `{"grant":..,"grantee":..}` payload.
    pub fn parse(body: &[u8]) -> Result<ForwardedGrant, OAuthError> {
        let body: Body = serde_json::from_slice(body).map_err(|e| {
            OAuthError::invalid_request(format!(
                "the body must be the JSON of an AcceptGrant directive or Grant request: {e}"
            ))
        })?;
        let (grant, grantee_token) = match body {
            Body {
                directive: Some(d), ..
            } => {
                if d.header.namespace != "Alexa.Authorization" || d.header.name != "AcceptGrant" {
                    return Err(OAuthError::invalid_request(format!(
                        "the directive is {}.{}, not Alexa.Authorization.AcceptGrant",
                        d.header.namespace, d.header.name
                    )));
                }
                (d.payload.grant, grantee(d.payload.grantee)?)
            }
            Body {
                request: Some(r),
                context,
                ..
            } => {
                if r.kind != "Alexa.Authorization.Grant" {
                    return Err(OAuthError::invalid_request(format!(
                        "the request is {}, not Alexa.Authorization.Grant",
                        r.kind
                    )));
                }
                let token = context
                    .and_then(|c| c.system.user.access_token)
                    .ok_or_else(|| {
                        OAuthError::invalid_request(
                            "context.System.user.accessToken is missing: the user has not linked an account",
                        )
                    })?;
                (r.body.grant, token)
            }
            Body {
                grant: Some(g),
                grantee: Some(t),
                ..
            } => (g, grantee(t)?),
            _ => {
                return Err(OAuthError::invalid_request(
                    "the body holds no grant: expected directive.payload, request.body or grant and grantee",
                ));
            }
        };
        if grant.kind != "OAuth2.AuthorizationCode" {
            return Err(OAuthError::invalid_request(format!(
                "grant.type {} is not supported; expected OAuth2.AuthorizationCode",
                grant.kind
            )));
        }
        if grant.code.is_empty() || grantee_token.is_empty() {
            return Err(OAuthError::invalid_request(
                "grant.code and the grantee token must not be empty",
            ));
        }
        Ok(ForwardedGrant {
            code: grant.code,
            grantee_token,
        })
    }
}

fn grantee(grantee: Grantee) -> Result<String, OAuthError> {
    if grantee.kind != "BearerToken" {
        return Err(OAuthError::invalid_request(format!(
            "grantee.type {} is not supported; expected BearerToken",
            grantee.kind
        )));
    }
    Ok(grantee.token)
}

/// The success answer (the same for a retried directive).
#[derive(Serialize)]
struct Accepted<'a> {
    status: &'static str,
    user_id: &'a str,
    partner_id: &'a str,
}

/// `POST /api/alexa/accept-grant`.
pub async fn accept_grant(
    State(app): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let remote_addr = client_ip(&app, &extensions, &headers);
    match handle(&app, &headers, &body, remote_addr).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    remote_addr: Option<IpAddr>,
) -> Result<Response, OAuthError> {
    // A JSON body carries no client credentials: HTTP Basic or a bearer.
    let caller = caller::authenticate(app, remote_addr, headers, &Params::default()).await?;
    let grant = ForwardedGrant::parse(body)?;
    if app.partners.is_empty() {
        return Err(not_configured());
    }
    let now = app.clock.now();
    let token = app
        .verify_access_token(&grant.grantee_token)
        .await?
        .ok_or_else(|| refused("the grantee token is not an active access token of this server"))?;
    let (user_id, grant_id, partner) = owner_of(app, &token)?;
    caller.may_read(partner)?;
    let owner = LinkOwner {
        user_id,
        client_id: &token.client_id,
        grant_id,
    };
    let code = TokenHash::of(&grant.code);
    if let Some(done) = app.store.get_processed_grant_code(&code, now).await? {
        return replayed(&done, owner, partner);
    }
    match custody::store_code(
        app,
        partner,
        owner,
        &grant.code,
        Via::AcceptGrant,
        remote_addr,
    )
    .await
    {
        Ok(_) => {
            let record = ProcessedGrantCode {
                user_id: user_id.to_owned(),
                partner_id: partner.config.id.clone(),
                expires_at: app.clock.now().saturating_add(PROCESSED_CODE_SECONDS),
            };
            // Already there only if a racing retry wrote it: same outcome.
            app.store
                .put_processed_grant_code(&code, &record, app.clock.now())
                .await?;
            Ok(accepted(user_id, partner))
        }
        Err(CustodyError::Lwa(LwaError::InvalidGrant(detail))) => {
            // LWA refuses a used code: a retry may have raced the attempt
            // that used it. Its record appears as soon as it is stored.
            match wait_for_record(app, &code, partner).await? {
                Some(done) => replayed(&done, owner, partner),
                None => Err(CustodyError::Lwa(LwaError::InvalidGrant(detail)).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The user, grant and partner a grantee token stands for.
fn owner_of<'a>(
    app: &'a AppState,
    token: &'a AccessTokenRecord,
) -> Result<(&'a str, crate::store::GrantId, &'a Partner), OAuthError> {
    let (Some(user_id), Some(grant_id)) = (token.user_id.as_deref(), token.grant_id) else {
        return Err(refused(
            "the grantee token must be a user's token from account linking",
        ));
    };
    let partner = app.partners.for_client(&token.client_id).ok_or_else(|| {
        refused("the grantee token's client is not linked to a partner (partners[].linkedClients)")
    })?;
    Ok((user_id, grant_id, partner))
}

fn refused(message: &'static str) -> OAuthError {
    OAuthError::invalid_grant(message)
}

fn accepted(user_id: &str, partner: &Partner) -> Response {
    axum::Json(Accepted {
        status: "accepted",
        user_id,
        partner_id: &partner.config.id,
    })
    .into_response()
}

/// A code exchanged before: success again for the same user and partner.
fn replayed(
    done: &ProcessedGrantCode,
    owner: LinkOwner<'_>,
    partner: &Partner,
) -> Result<Response, OAuthError> {
    if done.user_id == owner.user_id && done.partner_id == partner.config.id {
        tracing::info!(partner_id = %partner.config.id, "retried AcceptGrant answered from its first outcome");
        Ok(accepted(owner.user_id, partner))
    } else {
        Err(refused(
            "this authorization code was already used for another user",
        ))
    }
}

async fn wait_for_record(
    app: &AppState,
    code: &TokenHash,
    partner: &Partner,
) -> Result<Option<ProcessedGrantCode>, OAuthError> {
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(partner.config.request_timeout_seconds + 1);
    loop {
        if let Some(done) = app
            .store
            .get_processed_grant_code(code, app.clock.now())
            .await?
        {
            return Ok(Some(done));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str) -> Result<ForwardedGrant, String> {
        ForwardedGrant::parse(json.as_bytes()).map_err(|e| e.description.into_owned())
    }

    fn expected() -> ForwardedGrant {
        ForwardedGrant {
            code: "ANcode".into(),
            grantee_token: "ala_token".into(),
        }
    }

    #[test]
    fn a_smart_home_accept_grant_directive_is_read_as_alexa_sends_it() {
        let directive = r#"{"directive":{"header":{"namespace":"Alexa.Authorization","name":"AcceptGrant","messageId":"m-1","payloadVersion":"3"},
            "payload":{"grant":{"type":"OAuth2.AuthorizationCode","code":"ANcode"},"grantee":{"type":"BearerToken","token":"ala_token"}}}}"#;
        assert_eq!(parsed(directive), Ok(expected()));
        let bare = r#"{"grant":{"type":"OAuth2.AuthorizationCode","code":"ANcode"},"grantee":{"type":"BearerToken","token":"ala_token"}}"#;
        assert_eq!(parsed(bare), Ok(expected()));
    }

    #[test]
    fn a_custom_skill_grant_request_takes_the_token_from_the_context() {
        let request = r#"{"version":"1.0","context":{"System":{"user":{"userId":"amzn1.ask.account.X","accessToken":"ala_token"}}},
            "request":{"type":"Alexa.Authorization.Grant","requestId":"r-1","body":{"grant":{"type":"OAuth2.AuthorizationCode","code":"ANcode"}}}}"#;
        assert_eq!(parsed(request), Ok(expected()));
        let unlinked = request.replace(r#","accessToken":"ala_token""#, "");
        assert!(
            parsed(&unlinked)
                .expect_err("no token")
                .contains("accessToken")
        );
    }

    #[test]
    fn other_messages_are_refused_with_what_was_wrong() {
        assert!(parsed("grant_code=x").expect_err("form").contains("JSON"));
        let other = r#"{"directive":{"header":{"namespace":"Alexa","name":"ReportState"},"payload":{"grant":{"type":"OAuth2.AuthorizationCode","code":"c"},"grantee":{"type":"BearerToken","token":"t"}}}}"#;
        assert!(
            parsed(other)
                .expect_err("other directive")
                .contains("Alexa.ReportState")
        );
        let implicit = r#"{"grant":{"type":"OAuth2.Implicit","code":"c"},"grantee":{"type":"BearerToken","token":"t"}}"#;
        assert!(
            parsed(implicit)
                .expect_err("grant type")
                .contains("OAuth2.Implicit")
        );
        assert!(parsed("{}").expect_err("empty").contains("no grant"));
    }
}
