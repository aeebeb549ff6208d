//! The adapter between App-to-App linking and Amazon-token custody.
//!
//! App-to-App only decides *which user* an Amazon code belongs to; the
//! tokens are then kept exactly as mutual linking keeps them: one sealed
//! partner link per (user, partner) on the grant Alexa holds, served by
//! `/api/partner/token`, deleted when that grant ends. Every touch of that
//! custody is in this file, so that it can be pointed at a shared custody
//! module without changing the flows.

use std::time::Duration;

use super::error::AppToAppError;
use crate::app::AppState;
use crate::config::app_to_app::AMAZON_ACCOUNT_LINKING_SCOPE;
use crate::partner::lwa::{LwaError, LwaTokens};
use crate::partner::{AmazonTokens, Partner};
use crate::store::{GrantId, Lease, LeaseOutcome, PartnerLinkRecord, UnixTime};
use crate::tokens;

/// The pause before the first retry of a transient LWA failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// How long a request waits for another's refresh of the same link.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(5);
/// An access token with less than this left is refreshed before use.
const REFRESH_MARGIN_SECONDS: i64 = 60;

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
    tokens: LwaTokens,
) -> Result<bool, AppToAppError> {
    let Some(refresh_token) = tokens.refresh_token else {
        return Err(AppToAppError::BadGateway(
            "Login with Amazon returned no refresh token".into(),
        ));
    };
    let partner_id = partner.config.id.as_str();
    let now = app.clock.now();
    let sealed = app.partners.seal(
        user_id,
        partner_id,
        &AmazonTokens {
            access_token: tokens.access_token,
            refresh_token,
        },
    )?;
    let record = PartnerLinkRecord {
        user_id: user_id.to_owned(),
        partner_id: partner_id.to_owned(),
        client_id: client_id.to_owned(),
        grant_id,
        sealed_tokens: sealed,
        access_expires_at: now.saturating_add(tokens.expires_in),
        // The marker of App-to-App tokens: they may call the enablement API.
        scope: tokens
            .scope
            .unwrap_or_else(|| AMAZON_ACCOUNT_LINKING_SCOPE.to_owned()),
        updated_at: now,
        revision: 0,
        refresh_lease: None,
    };
    Ok(app.store.put_partner_link(&record, now).await?)
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
/// request at a time across replicas (the store's refresh lease). `None`
/// when there is no such link.
pub async fn access_token(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<Option<(String, PartnerLinkRecord)>, AppToAppError> {
    let partner_id = partner.config.id.as_str();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_REFRESH;
    loop {
        let now = app.clock.now();
        let Some(link) = app.store.get_partner_link(user_id, partner_id, now).await? else {
            return Ok(None);
        };
        if !is_app_to_app(&link) {
            return Ok(None);
        }
        if fresh(&link, now) {
            let tokens = app
                .partners
                .open(user_id, partner_id, &link.sealed_tokens)?;
            return Ok(Some((tokens.access_token, link)));
        }
        let lease = Lease {
            holder: tokens::random_id(),
            until: now.saturating_add(2 * partner.config.request_timeout_seconds as i64 + 5),
        };
        match app
            .store
            .acquire_partner_lease(user_id, partner_id, lease, now)
            .await?
        {
            LeaseOutcome::NotFound => return Ok(None),
            LeaseOutcome::Acquired(link) => {
                return refresh(app, partner, link, lease).await.map(Some);
            }
            LeaseOutcome::Held(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            LeaseOutcome::Held(_) => {
                return Err(AppToAppError::Unavailable(
                    "another refresh of this user's Amazon token is taking too long".into(),
                ));
            }
        }
    }
}

fn fresh(link: &PartnerLinkRecord, now: UnixTime) -> bool {
    link.access_expires_at - now > REFRESH_MARGIN_SECONDS
}

async fn refresh(
    app: &AppState,
    partner: &Partner,
    link: PartnerLinkRecord,
    lease: Lease,
) -> Result<(String, PartnerLinkRecord), AppToAppError> {
    let user_id = link.user_id.as_str();
    let partner_id = partner.config.id.as_str();
    let release = || async {
        let _ = app
            .store
            .finish_partner_refresh(user_id, partner_id, lease.holder, None, app.clock.now())
            .await;
    };
    let old = match app.partners.open(user_id, partner_id, &link.sealed_tokens) {
        Ok(t) => t,
        Err(e) => {
            release().await;
            return Err(e.into());
        }
    };
    match partner.lwa.refresh(&old.refresh_token).await {
        Ok(new) => {
            let now = app.clock.now();
            let tokens = AmazonTokens {
                refresh_token: new.refresh_token.unwrap_or(old.refresh_token),
                access_token: new.access_token,
            };
            let expires_at = now.saturating_add(new.expires_in);
            let sealed = app.partners.seal(user_id, partner_id, &tokens)?;
            app.store
                .finish_partner_refresh(
                    user_id,
                    partner_id,
                    lease.holder,
                    Some((sealed, expires_at)),
                    now,
                )
                .await?;
            let mut link = link.clone();
            link.access_expires_at = expires_at;
            Ok((tokens.access_token, link))
        }
        Err(LwaError::InvalidGrant(detail)) => {
            // The user revoked the skill at Amazon: the tokens are dead.
            tracing::warn!(partner_id, user_id, %detail, "Amazon refresh token rejected; deleting the App-to-App link");
            app.store
                .delete_partner_link(user_id, partner_id, Some(link.grant_id))
                .await?;
            Err(AppToAppError::NotLinked)
        }
        Err(e) => {
            release().await;
            Err(AppToAppError::from_lwa(e))
        }
    }
}
