//! Who may ask for a user's Amazon tokens, or hand us their LWA codes: a
//! client with `partnerTokenAccess` (the skill developer's backend),
//! authenticated with HTTP Basic (or body) client credentials, or with a
//! bearer token from its `client_credentials` grant carrying the
//! `partner_token` scope. The partner-token, AcceptGrant and skill-event
//! endpoints all authenticate their caller here.

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode};

use super::Partner;
use crate::app::AppState;
use crate::config::PARTNER_TOKEN_SCOPE;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::oauth::scope;
use crate::oauth::{bearer, client_auth};

/// An authenticated client with partner-token access.
#[derive(Debug, Clone)]
pub struct PartnerCaller {
    /// Its client id.
    pub client_id: String,
    /// The partners it is limited to (`partnerTokenPartners`); empty: all.
    partners: Vec<String>,
}

impl PartnerCaller {
    /// Whether the caller may handle `partner`'s tokens: `403
    /// unauthorized_client` otherwise.
    pub fn may_read(&self, partner: &Partner) -> Result<(), OAuthError> {
        if may_use(&self.partners, &partner.config.id) {
            Ok(())
        } else {
            Err(OAuthError::new(
                ErrorCode::UnauthorizedClient,
                "this client may not read this partner's tokens (partnerTokenPartners)",
            )
            .with_status(StatusCode::FORBIDDEN))
        }
    }
}

/// The rule of `partnerTokenPartners`: empty allows every partner.
fn may_use(allowed: &[String], partner_id: &str) -> bool {
    allowed.is_empty() || allowed.iter().any(|p| p == partner_id)
}

/// Authenticates the caller of a partner endpoint. `params` holds body
/// credentials when the endpoint takes a form (empty for JSON bodies: then
/// only HTTP Basic or a bearer token authenticate).
pub async fn authenticate(
    app: &AppState,
    remote_addr: Option<IpAddr>,
    headers: &HeaderMap,
    params: &Params,
) -> Result<PartnerCaller, OAuthError> {
    let client_id = if bearer::bearer(headers).is_some() {
        let token = bearer::authenticate(app, headers).await?;
        if token.user_id.is_some()
            || !scope::split(&token.scope)
                .iter()
                .any(|s| s == PARTNER_TOKEN_SCOPE)
        {
            return Err(OAuthError::new(
                ErrorCode::InsufficientScope,
                "a client_credentials token with the partner_token scope is required",
            ));
        }
        token.client_id
    } else {
        // Throttled per client id and address, like every client login.
        client_auth::authenticate_from(app, remote_addr, headers, params)
            .await?
            .id()
            .to_owned()
    };
    match app.clients.get(&client_id) {
        Some(c) if c.config.partner_token_access => Ok(PartnerCaller {
            partners: c.config.partner_token_partners.clone(),
            client_id,
        }),
        _ => Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not read partner tokens (partnerTokenAccess)",
        )
        .with_status(StatusCode::FORBIDDEN)),
    }
}

#[cfg(test)]
mod tests {
    use super::may_use;

    #[test]
    fn an_empty_list_allows_every_partner_and_a_list_only_its_own() {
        assert!(may_use(&[], "amazon"));
        let only_eu = ["amazon-eu".to_owned()];
        assert!(may_use(&only_eu, "amazon-eu"));
        assert!(!may_use(&only_eu, "amazon"));
    }
}
