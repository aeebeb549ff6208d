//! The adapter between App-to-App linking and Amazon-token custody.
//!
//! App-to-App only decides *which user* an Amazon code belongs to; the
//! tokens are then kept exactly as mutual linking keeps them: one sealed
//! partner link per (user, partner) on the grant Alexa holds, served by
//! `/api/partner/token`, deleted when that grant ends. Every touch of that
//! custody ([`crate::partner::custody`]) is in this file.

use std::time::Duration;

use super::error::AppToAppError;
use crate::app::AppState;
use crate::config::app_to_app::AMAZON_ACCOUNT_LINKING_SCOPE;
use crate::partner::Partner;
use crate::partner::custody::{self, CustodyError, LinkOwner, Reader, Via};
use crate::partner::lwa::{LwaError, LwaTokens};
use crate::store::{GrantId, PartnerLinkRecord};

/// The pause before the first retry of a transient LWA failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Exchanges the Amazon authorization code with the skill's LWA
/// credentials, retrying LWA's transient failures up to `attempts` times.
pub async fn exchange(
    partner: &Partner,
    code: &str,
    redirect_uri: &str,
    attempts: u32,
) -> Result<LwaTokens, AppToAppError> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match partner.lwa.exchange_code_for(code, redirect_uri).await {
            Ok(tokens) => return Ok(tokens),
            Err(LwaError::BadGateway(_) | LwaError::Unreachable(_)) if attempt < attempts => {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(e) => return Err(AppToAppError::from_lwa(e)),
        }
    }
}

/// Keeps `tokens` for (user, partner) on `grant` (the grant Alexa redeemed
/// our code for), replacing older ones. `false` when the grant is no longer
/// active.
pub async fn keep(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
    client_id: &str,
    grant_id: GrantId,
    mut tokens: LwaTokens,
) -> Result<bool, AppToAppError> {
    // The marker of App-to-App tokens: they may call the enablement API.
    if tokens.scope.is_none() {
        tokens.scope = Some(AMAZON_ACCOUNT_LINKING_SCOPE.to_owned());
    }
    let owner = LinkOwner {
        user_id,
        client_id,
        grant_id,
    };
    match custody::keep(app, partner, owner, tokens, Via::AppToApp, None).await {
        Ok(_) => Ok(true),
        Err(CustodyError::GrantEnded) => Ok(false),
        Err(e) => Err(from_custody(e)),
    }
}

/// Whether a kept link holds App-to-App tokens (which may call the skill
/// enablement API), rather than mutual-linking ones.
pub fn is_app_to_app(link: &PartnerLinkRecord) -> bool {
    link.scope
        .split(' ')
        .any(|s| s == AMAZON_ACCOUNT_LINKING_SCOPE)
}

/// The user's kept App-to-App link to `partner` and a valid Amazon access
/// token of it, refreshed at LWA first when it is (nearly) expired, by one
/// request at a time across replicas (custody's single flight). `None`
/// when there is no such link.
pub async fn access_token(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<Option<(String, PartnerLinkRecord)>, AppToAppError> {
    let now = app.clock.now();
    let Some(mut link) = app
        .store
        .get_partner_link(user_id, &partner.config.id, now)
        .await?
    else {
        return Ok(None);
    };
    if !is_app_to_app(&link) {
        return Ok(None);
    }
    // The server reads the token for its own calls to Alexa, on behalf of
    // the client the user linked through.
    let reader = Reader {
        client_id: &link.client_id.clone(),
        remote_addr: None,
    };
    match custody::access_token(app, partner, user_id, reader).await {
        Ok(token) => {
            link.access_expires_at = token.expires_at;
            Ok(Some((token.access_token, link)))
        }
        Err(CustodyError::NotLinked) => Ok(None),
        Err(e) => Err(from_custody(e)),
    }
}

fn from_custody(e: CustodyError) -> AppToAppError {
    match e {
        // The user revoked the skill at Amazon: custody deleted the tokens.
        CustodyError::Relink => AppToAppError::NotLinked,
        CustodyError::Lwa(e) => AppToAppError::from_lwa(e),
        CustodyError::RefreshBusy => AppToAppError::Unavailable(
            "another refresh of this user's Amazon token is taking too long".into(),
        ),
        CustodyError::NoRefreshToken => {
            AppToAppError::BadGateway("Login with Amazon returned no refresh token".into())
        }
        CustodyError::Store(e) => e.into(),
        e => crate::oauth::error::OAuthError::from(e).into(),
    }
}
