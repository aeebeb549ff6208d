//! Custody of a user's Amazon (LWA) tokens: the one mechanism behind every
//! way an LWA authorization code reaches us.
//!
//! Reciprocal authorization (mutual linking), smart-home `AcceptGrant`, and
//! App-to-App linking all end the same way: a code is exchanged at the
//! partner's (region's) LWA token endpoint and the tokens are kept for
//! (user, partner), sealed with the key ring, replacing older ones; a valid
//! access token is read back, refreshed at LWA when expired or near expiry
//! by one request at a time; the tokens are deleted when the user's grant
//! ends. Each entry point only decides *which user* a code belongs to (a
//! [`LinkOwner`]) and calls [`store_code`]; readers call [`access_token`];
//! [`delete`] ends custody, and [`end_grant`] ends a user's grant with the
//! tokens kept through it. Every step writes an audit entry
//! ([`crate::audit`]).
//!
//! Single flight: within this process through a lock per (user, partner),
//! across replicas through a lease in the store; everyone else waits for
//! that refresh's result. The Amazon refresh token never leaves this module
//! unsealed except towards LWA.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::lwa::{LwaError, LwaTokens};
use super::{Partner, Partners};
use crate::app::AppState;
use crate::audit::{Audit, AuditEvent, DeleteReason, RevokeReason};
use crate::oauth::bearer;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::store::{GrantId, Lease, LeaseOutcome, PartnerLinkRecord, StoreError, UnixTime};
use crate::tokens;

/// How long a request waits for another's refresh before giving up (503).
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(10);
/// How often a waiter looks at the store again.
const POLL: Duration = Duration::from_millis(50);

/// The Amazon tokens of one link, as sealed in the store.
#[derive(Serialize, Deserialize)]
struct AmazonTokens {
    /// `Atza|...`.
    access_token: String,
    /// `Atzr|...`; never leaves the server.
    refresh_token: String,
}

/// Whose Amazon tokens a code yields: decided by the entry point that
/// received the code (from a bearer token, a grantee token, an App-to-App
/// session), never by custody.
#[derive(Debug, Clone, Copy)]
pub struct LinkOwner<'a> {
    /// Our user.
    pub user_id: &'a str,
    /// Our client through which the user linked (the Alexa skill).
    pub client_id: &'a str,
    /// Our grant the tokens belong to: when it ends, so do they.
    pub grant_id: GrantId,
}

/// Which way the LWA code arrived (recorded in the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /api/reciprocal/authorize`: mutual account linking.
    Reciprocal,
    /// A smart-home `Alexa.Authorization.AcceptGrant` or custom-skill
    /// `Alexa.Authorization.Grant` directive, forwarded by the skill.
    AcceptGrant,
    /// App-to-App account linking.
    AppToApp,
}

impl Via {
    /// The name used in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Reciprocal => "reciprocal",
            Via::AcceptGrant => "accept_grant",
            Via::AppToApp => "app_to_app",
        }
    }
}

/// Who asks custody for a user's token.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    /// The client, authenticated by the entry point.
    pub client_id: &'a str,
    /// Its address, when known.
    pub remote_addr: Option<IpAddr>,
}

/// A valid Amazon access token of a user.
#[derive(Debug, Clone)]
pub struct AmazonAccessToken {
    /// `Atza|...`.
    pub access_token: String,
    /// When it expires.
    pub expires_at: UnixTime,
    /// The scope Amazon granted, space separated.
    pub scope: String,
}

/// Why custody could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// The user has no stored tokens for the partner.
    #[error("the user has no stored Amazon tokens for the partner")]
    NotLinked,
    /// Our grant ended while LWA was being asked: nothing was stored.
    #[error("the grant ended before the Amazon tokens could be stored")]
    GrantEnded,
    /// LWA no longer accepts the stored refresh token; the tokens were
    /// deleted and the user must link again.
    #[error("Login with Amazon rejected the stored refresh token")]
    Relink,
    /// LWA answered a code exchange without a refresh token.
    #[error("Login with Amazon returned no refresh token")]
    NoRefreshToken,
    /// Another request's refresh took longer than we wait.
    #[error("another refresh of the user's Amazon token is taking too long")]
    RefreshBusy,
    /// LWA refused or failed.
    #[error(transparent)]
    Lwa(#[from] LwaError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening the stored tokens failed.
    #[error("{0}")]
    Crypto(&'static str),
}

impl CustodyError {
    /// The audit log's `reason` for a failure: a word, never a value.
    pub fn reason(&self) -> &'static str {
        match self {
            CustodyError::NotLinked => "not_linked",
            CustodyError::GrantEnded => "grant_ended",
            CustodyError::Relink => "lwa_rejected_refresh",
            CustodyError::NoRefreshToken => "lwa_no_refresh_token",
            CustodyError::RefreshBusy => "refresh_busy",
            CustodyError::Lwa(LwaError::InvalidGrant(_)) => "lwa_invalid_grant",
            CustodyError::Lwa(LwaError::InvalidClient(_)) => "lwa_invalid_client",
            CustodyError::Lwa(LwaError::Rejected { .. }) => "lwa_rejected",
            CustodyError::Lwa(LwaError::BadGateway(_)) => "lwa_failed",
            CustodyError::Lwa(LwaError::Unreachable(_)) => "lwa_unreachable",
            CustodyError::Store(_) => "store_unavailable",
            CustodyError::Crypto(_) => "crypto",
        }
    }
}

impl From<CustodyError> for OAuthError {
    fn from(e: CustodyError) -> OAuthError {
        match e {
            CustodyError::NotLinked => OAuthError::new(
                ErrorCode::NotLinked,
                "this user has no mutual account link with the partner",
            )
            .with_status(StatusCode::NOT_FOUND),
            CustodyError::GrantEnded => bearer::invalid_token("the access token was revoked"),
            CustodyError::Relink => OAuthError::invalid_grant(
                "Login with Amazon no longer accepts this user's tokens; the user must link the skill again",
            ),
            CustodyError::NoRefreshToken => OAuthError::new(
                ErrorCode::ServerError,
                "Login with Amazon returned no refresh token",
            )
            .with_status(StatusCode::BAD_GATEWAY),
            CustodyError::RefreshBusy => OAuthError::new(
                ErrorCode::TemporarilyUnavailable,
                "another refresh of this user's Amazon token is taking too long; retry later",
            ),
            CustodyError::Lwa(e) => super::lwa_error(e),
            CustodyError::Store(e) => e.into(),
            CustodyError::Crypto(message) => OAuthError::new(ErrorCode::ServerError, message),
        }
    }
}

/// Exchanges an LWA authorization `code` at `partner`'s token endpoint and
/// stores the tokens for `owner`, replacing older ones. Nothing is stored
/// unless LWA succeeded and `owner.grant_id` is still active.
/// `remote_addr` is the caller's address, for the audit log.
pub async fn store_code(
    app: &AppState,
    partner: &Partner,
    owner: LinkOwner<'_>,
    code: &str,
    via: Via,
    remote_addr: Option<IpAddr>,
) -> Result<AmazonAccessToken, CustodyError> {
    let result = match partner.lwa.exchange_code(code).await {
        Ok(lwa) => put(app, partner, owner, lwa, via).await,
        Err(e) => Err(e.into()),
    };
    audit_stored(app, partner, owner, via, remote_addr, &result);
    result
}

/// Stores tokens already obtained from LWA for `owner`, replacing older
/// ones: for an entry point that must use the Amazon token before our grant
/// exists (App-to-App calls Alexa with it, and Alexa's redemption of our
/// code creates the grant). Audited like [`store_code`].
pub async fn keep(
    app: &AppState,
    partner: &Partner,
    owner: LinkOwner<'_>,
    lwa: LwaTokens,
    via: Via,
    remote_addr: Option<IpAddr>,
) -> Result<AmazonAccessToken, CustodyError> {
    let result = put(app, partner, owner, lwa, via).await;
    audit_stored(app, partner, owner, via, remote_addr, &result);
    result
}

/// The audit line of one attempt to store a user's Amazon tokens.
fn audit_stored(
    app: &AppState,
    partner: &Partner,
    owner: LinkOwner<'_>,
    via: Via,
    remote_addr: Option<IpAddr>,
    result: &Result<AmazonAccessToken, CustodyError>,
) {
    let mut entry = Audit::new(AuditEvent::AmazonTokensStored { via })
        .client(owner.client_id)
        .user(owner.user_id)
        .partner(&partner.config.id)
        .grant(owner.grant_id)
        .remote(remote_addr);
    if let Err(e) = result {
        entry = entry.failed(e.reason());
    }
    entry.emit(&app.metrics);
}

async fn put(
    app: &AppState,
    partner: &Partner,
    owner: LinkOwner<'_>,
    lwa: LwaTokens,
    via: Via,
) -> Result<AmazonAccessToken, CustodyError> {
    let partner_id = partner.config.id.as_str();
    let Some(refresh_token) = lwa.refresh_token else {
        tracing::warn!(
            partner_id,
            via = via.as_str(),
            "Login with Amazon answered a code exchange without a refresh token"
        );
        return Err(CustodyError::NoRefreshToken);
    };
    let now = app.clock.now();
    let tokens = AmazonTokens {
        access_token: lwa.access_token,
        refresh_token,
    };
    let scope = lwa.scope.unwrap_or_else(|| partner.config.scopes.join(" "));
    let expires_at = now.saturating_add(lwa.expires_in);
    let record = PartnerLinkRecord {
        user_id: owner.user_id.to_owned(),
        partner_id: partner_id.to_owned(),
        client_id: owner.client_id.to_owned(),
        grant_id: owner.grant_id,
        sealed_tokens: app.partners.seal(owner.user_id, partner_id, &tokens)?,
        access_expires_at: expires_at,
        scope: scope.clone(),
        updated_at: now,
        // The store sets the revision.
        revision: 0,
        refresh_lease: None,
    };
    if !app.store.put_partner_link(&record, now).await? {
        return Err(CustodyError::GrantEnded);
    }
    Ok(AmazonAccessToken {
        access_token: tokens.access_token,
        expires_at,
        scope,
    })
}

/// A valid Amazon access token of `user_id` for `partner`, refreshed at
/// LWA first when it has no more than the partner's refresh margin left.
/// Every read is audited, naming the reader and the user.
pub async fn access_token(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
    reader: Reader<'_>,
) -> Result<AmazonAccessToken, CustodyError> {
    let result = read(app, partner, user_id).await;
    let mut entry = Audit::new(AuditEvent::PartnerTokenRead)
        .client(reader.client_id)
        .user(user_id)
        .partner(&partner.config.id)
        .remote(reader.remote_addr);
    if let Err(e) = &result {
        entry = entry.failed(e.reason());
    }
    entry.emit(&app.metrics);
    result
}

async fn read(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<AmazonAccessToken, CustodyError> {
    let partner_id = partner.config.id.as_str();
    let link = app
        .store
        .get_partner_link(user_id, partner_id, app.clock.now())
        .await?
        .ok_or(CustodyError::NotLinked)?;
    if fresh(&link, partner, app.clock.now()) {
        current(&app.partners, &link)
    } else {
        refresh(app, partner, user_id).await
    }
}

/// Deletes the stored tokens of `user_id` for `partner` (when `grant` is
/// given: only if they belong to that grant). Returns whether there were
/// any; a deletion is audited with its `reason`.
pub async fn delete(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
    grant: Option<GrantId>,
    reason: DeleteReason,
) -> Result<bool, CustodyError> {
    let partner_id = partner.config.id.as_str();
    let deleted = app
        .store
        .delete_partner_link(user_id, partner_id, grant)
        .await?;
    if deleted {
        let mut entry = Audit::new(AuditEvent::AmazonTokensDeleted { reason })
            .user(user_id)
            .partner(partner_id);
        if let Some(grant) = grant {
            entry = entry.grant(grant);
        }
        entry.emit(&app.metrics);
    }
    Ok(deleted)
}

/// Ends a user's grant of `client_id` for `reason`: deletes the Amazon
/// tokens kept through it (of every partner), then revokes the grant and
/// every token of it. Returns whether the grant was active. Both steps are
/// audited; this is the one way a user's link ends on purpose (unlink,
/// skill disabled, an administrator's revocation).
pub async fn end_grant(
    app: &AppState,
    user_id: &str,
    client_id: &str,
    grant: GrantId,
    reason: RevokeReason,
    remote_addr: Option<IpAddr>,
) -> Result<bool, CustodyError> {
    for partner in &app.partners.list {
        delete(
            app,
            partner,
            user_id,
            Some(grant),
            DeleteReason::GrantRevoked(reason),
        )
        .await?;
    }
    let was_active = app.store.revoke_grant(&grant, app.clock.now()).await?;
    // Its sealed and JWT access tokens end here at once (other replicas
    // within the grant-state cache bound).
    app.access_tokens.forget_grant(&grant);
    if was_active {
        Audit::new(AuditEvent::GrantRevoked { reason })
            .client(client_id)
            .user(user_id)
            .grant(grant)
            .remote(remote_addr)
            .emit(&app.metrics);
    }
    Ok(was_active)
}

fn fresh(link: &PartnerLinkRecord, partner: &Partner, now: UnixTime) -> bool {
    link.access_expires_at - now > partner.config.refresh_margin_seconds as i64
}

/// The stored access token of a link, as it is.
fn current(
    partners: &Partners,
    link: &PartnerLinkRecord,
) -> Result<AmazonAccessToken, CustodyError> {
    let tokens = partners.open(&link.user_id, &link.partner_id, &link.sealed_tokens)?;
    Ok(AmazonAccessToken {
        access_token: tokens.access_token,
        expires_at: link.access_expires_at,
        scope: link.scope.clone(),
    })
}

/// Refreshes the user's Amazon tokens, or waits for whoever is doing it.
async fn refresh(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<AmazonAccessToken, CustodyError> {
    let partner_id = partner.config.id.as_str();
    let flight = app.partners.flight(user_id, partner_id);
    let result = {
        let _turn = flight.lock().await;
        refresh_once(app, partner, user_id).await
    };
    app.partners.land(user_id, partner_id, flight);
    result
}

async fn refresh_once(
    app: &AppState,
    partner: &Partner,
    user_id: &str,
) -> Result<AmazonAccessToken, CustodyError> {
    let partner_id = partner.config.id.as_str();
    let deadline = tokio::time::Instant::now() + WAIT_FOR_REFRESH;
    let lease_seconds = 2 * partner.config.request_timeout_seconds as i64 + 5;
    loop {
        let now = app.clock.now();
        let lease = Lease {
            holder: tokens::random_id(),
            until: now.saturating_add(lease_seconds),
        };
        match app
            .store
            .acquire_partner_lease(user_id, partner_id, lease, now)
            .await?
        {
            LeaseOutcome::NotFound => return Err(CustodyError::NotLinked),
            LeaseOutcome::Acquired(link) if fresh(&link, partner, now) => {
                // Refreshed by another replica between our read and the lease.
                release(app, user_id, partner_id, lease).await;
                return current(&app.partners, &link);
            }
            LeaseOutcome::Acquired(link) => {
                return refresh_with_lease(app, partner, link, lease).await;
            }
            LeaseOutcome::Held(link) if fresh(&link, partner, now) => {
                return current(&app.partners, &link);
            }
            LeaseOutcome::Held(_) => {
                if tokio::time::Instant::now() >= deadline {
                    return Err(CustodyError::RefreshBusy);
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

async fn release(app: &AppState, user_id: &str, partner_id: &str, lease: Lease) {
    if let Err(e) = app
        .store
        .finish_partner_refresh(user_id, partner_id, lease.holder, None, app.clock.now())
        .await
    {
        tracing::warn!(error = %e, "failed to release a partner refresh lease; it will lapse");
    }
}

async fn refresh_with_lease(
    app: &AppState,
    partner: &Partner,
    link: PartnerLinkRecord,
    lease: Lease,
) -> Result<AmazonAccessToken, CustodyError> {
    let user_id = link.user_id.as_str();
    let partner_id = partner.config.id.as_str();
    let old = match app.partners.open(user_id, partner_id, &link.sealed_tokens) {
        Ok(t) => t,
        Err(e) => {
            release(app, user_id, partner_id, lease).await;
            return Err(e);
        }
    };
    match partner.lwa.refresh(&old.refresh_token).await {
        Ok(new) => {
            let now = app.clock.now();
            let tokens = AmazonTokens {
                // LWA may keep the refresh token; then the old one stays.
                refresh_token: new.refresh_token.unwrap_or(old.refresh_token),
                access_token: new.access_token,
            };
            let expires_at = now.saturating_add(new.expires_in);
            let sealed = app.partners.seal(user_id, partner_id, &tokens)?;
            let stored = app
                .store
                .finish_partner_refresh(
                    user_id,
                    partner_id,
                    lease.holder,
                    Some((sealed, expires_at)),
                    now,
                )
                .await?;
            if !stored {
                // Our lease lapsed (LWA was very slow) and someone else took
                // over; what we got is still a valid token to hand out.
                tracing::warn!(
                    partner_id,
                    "partner refresh finished after its lease lapsed"
                );
            }
            Audit::new(AuditEvent::AmazonTokensRefreshed)
                .client(&link.client_id)
                .user(user_id)
                .partner(partner_id)
                .grant(link.grant_id)
                .emit(&app.metrics);
            Ok(AmazonAccessToken {
                access_token: tokens.access_token,
                expires_at,
                scope: new.scope.unwrap_or(link.scope),
            })
        }
        Err(LwaError::InvalidGrant(detail)) => {
            tracing::warn!(partner_id, user_id, %detail, "Amazon refresh token rejected; deleting the link");
            delete(
                app,
                partner,
                user_id,
                Some(link.grant_id),
                DeleteReason::LwaRejectedRefresh,
            )
            .await?;
            Err(CustodyError::Relink)
        }
        Err(e) => {
            release(app, user_id, partner_id, lease).await;
            Err(e.into())
        }
    }
}

impl Partners {
    /// Associated data binding a ciphertext to its record.
    fn aad(user_id: &str, partner_id: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(user_id.len() + partner_id.len() + 1);
        aad.extend_from_slice(user_id.as_bytes());
        aad.push(0);
        aad.extend_from_slice(partner_id.as_bytes());
        aad
    }

    /// Encrypts tokens for a record.
    fn seal(
        &self,
        user_id: &str,
        partner_id: &str,
        tokens: &AmazonTokens,
    ) -> Result<Vec<u8>, CustodyError> {
        let plain = postcard::to_stdvec(tokens)
            .map_err(|_| CustodyError::Crypto("failed to encode tokens"))?;
        self.keyring
            .seal(&plain, &Self::aad(user_id, partner_id))
            .ok_or(CustodyError::Crypto("no encryption key is configured"))
    }

    /// Decrypts a record's tokens.
    fn open(
        &self,
        user_id: &str,
        partner_id: &str,
        sealed: &[u8],
    ) -> Result<AmazonTokens, CustodyError> {
        let plain = self
            .keyring
            .open(sealed, &Self::aad(user_id, partner_id))
            .map_err(|e| {
                tracing::error!(error = %e, partner_id, "cannot decrypt stored Amazon tokens");
                CustodyError::Crypto(
                    "stored tokens cannot be decrypted (was an encryption key removed?)",
                )
            })?;
        postcard::from_bytes(&plain).map_err(|_| CustodyError::Crypto("stored tokens are corrupt"))
    }

    /// The in-process lock that lets one request per (user, partner) refresh
    /// while the others wait for its result.
    fn flight(&self, user_id: &str, partner_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        flights
            .entry((user_id.to_owned(), partner_id.to_owned()))
            .or_default()
            .clone()
    }

    /// Forgets a lock nobody else holds, so the map does not grow forever.
    fn land(
        &self,
        user_id: &str,
        partner_id: &str,
        flight: std::sync::Arc<tokio::sync::Mutex<()>>,
    ) {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Ours and the map's: nobody is waiting.
        if std::sync::Arc::strong_count(&flight) == 2 {
            flights.remove(&(user_id.to_owned(), partner_id.to_owned()));
        }
    }
}
