//! `grant_type=refresh_token` (RFC 6749 6) with rotation, a grace window and
//! reuse detection.
//!
//! With rotation, a refresh token is exchanged once. A retry of the same
//! token within `gracePeriodSeconds` (Alexa retries when a response is lost)
//! gets the very same successor back, opened from the sealed copy kept with
//! the old token; any replica can answer it. A retry after the window is
//! refresh-token reuse (RFC 9700 4.14.2): the whole grant is revoked.
//!
//! A refresh token that carries its claims ([`crate::tokens::refresh`]) is
//! exchanged with one store operation, the conditional rotation; the store
//! is read only when the rotation declines, and then decides as above.

use super::{GrantContext, TokenResponse, mint_access, mint_refresh};
use crate::audit::{Audit, AuditEvent, RevokeReason};
use crate::identity::presence::{Presence, UserPresence};
use crate::oauth::clients::Client;
use crate::oauth::error::{ErrorCode, OAuthError};
use crate::oauth::form::Params;
use crate::oauth::refresh_policy::{self, RefreshValidity};
use crate::oauth::scope;
use crate::store::{RefreshLookup, RefreshState, RotateError, Rotation, UnixTime};
use crate::tokens::refresh::RefreshClaims;
use crate::tokens::{self, Successor, TokenHash};

/// The shared rule, judged for the client presenting the token.
fn decide(lookup: Option<&RefreshLookup>, client: &Client, now: UnixTime) -> RefreshValidity {
    refresh_policy::assess(
        lookup,
        client.id(),
        client.config.refresh_token.grace_period_seconds,
        now,
    )
}

/// The claims of a token [`decide`] found usable, read from the store
/// (which then has its grant).
fn read_claims(lookup: Option<RefreshLookup>) -> Option<RefreshClaims> {
    let lookup = lookup?;
    Some(RefreshClaims {
        grant_created_at: lookup.grant?.created_at,
        record: lookup.token,
    })
}

/// The claims a token carries, when they are this server's and say it is
/// this client's and unexpired. Only that case is settled without a read;
/// anything else is read, so that what is stored decides (a rotated
/// token's replay or reuse among it).
fn carried_claims(
    ctx: &GrantContext<'_>,
    client: &Client,
    presented: &str,
    now: UnixTime,
) -> Option<RefreshClaims> {
    ctx.refresh_tokens.claims(presented).filter(|c| {
        c.record.client_id == client.id() && c.record.expires_at.is_none_or(|e| now < e)
    })
}

/// Exchanges a refresh token, if its user is still in the identity backend.
///
/// A token that carries its claims goes straight to the rotation, one store
/// operation: the rotation checks what the claims cannot (that the token is
/// still active, and its grant), and when it declines, what is stored is
/// read and decides. A token without claims is read first.
pub async fn exchange(
    ctx: &GrantContext<'_>,
    users: &UserPresence,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let presented = params.require("refresh_token")?;
    let hash = TokenHash::of(presented);
    let now = ctx.clock.now();
    let mut claims = match carried_claims(ctx, client, presented, now) {
        Some(claims) => claims,
        None => {
            let lookup = ctx.store.get_refresh_token(&hash, now).await?;
            match decide(lookup.as_ref(), client, now) {
                RefreshValidity::Invalid => return Err(invalid()),
                RefreshValidity::RotatedWithinGrace => {
                    return replay_successor(lookup.as_ref(), presented, now);
                }
                RefreshValidity::RotatedAfterGrace => {
                    return Err(reuse(ctx, lookup.as_ref(), now).await);
                }
                RefreshValidity::Usable => read_claims(lookup).ok_or_else(invalid)?,
            }
        }
    };
    ensure_present(ctx, users, client, &claims, now).await?;
    // A shared store may report a lost race between two rotations of this
    // token before either has won; look again, a few times.
    for _ in 0..3 {
        match rotate(ctx, client, params, presented, hash, claims, now).await? {
            Rotated::Done(response) => return Ok(response),
            Rotated::Retry(again) => claims = again,
        }
    }
    Err(OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "the refresh token is being used concurrently; retry",
    ))
}

/// A user removed from the identity backend (or whose link is older than
/// the backend allows) loses the link here: the grant is revoked, with its
/// tokens and the Amazon tokens kept through it.
async fn ensure_present(
    ctx: &GrantContext<'_>,
    users: &UserPresence,
    client: &Client,
    claims: &RefreshClaims,
    now: UnixTime,
) -> Result<(), OAuthError> {
    let token = &claims.record;
    if users
        .verdict(&token.user_id, Some(claims.grant_created_at), now)
        .await
        == Presence::Present
    {
        return Ok(());
    }
    if ctx.store.revoke_grant(&token.grant_id, now).await? {
        Audit::new(AuditEvent::GrantRevoked {
            reason: RevokeReason::UserDeprovisioned,
        })
        .client(client.id())
        .user(&token.user_id)
        .grant(token.grant_id)
        .remote(ctx.remote_addr)
        .emit(ctx.metrics);
    }
    tracing::info!(
        client_id = %client.id(),
        "refresh refused and grant revoked: the user is no longer in the identity backend (or the link is too old)"
    );
    Err(OAuthError::invalid_grant(
        "the user is no longer allowed to sign in, or the link is older than allowed; link the account again",
    ))
}

/// What one rotation attempt came to.
enum Rotated {
    /// The answer for the client.
    Done(TokenResponse),
    /// Nothing was decided and the token is still active: try again.
    Retry(RefreshClaims),
}

async fn rotate(
    ctx: &GrantContext<'_>,
    client: &Client,
    params: &Params,
    presented: &str,
    hash: TokenHash,
    claims: RefreshClaims,
    now: UnixTime,
) -> Result<Rotated, OAuthError> {
    let token = &claims.record;
    // A narrower scope may be asked for the access token (RFC 6749 6); the
    // refresh token keeps the grant's scope.
    let granted: Vec<&str> = scope::split_borrowed(&token.scope).collect();
    let access_scope = scope::resolve_joined(params.get("scope"), &granted)?;
    let access = mint_access(
        ctx,
        client,
        Some(&token.user_id),
        &access_scope,
        Some(token.grant_id),
        now,
    )?;
    let rotating = client.config.refresh_token.rotation;
    let refresh = rotating.then(|| {
        mint_refresh(
            ctx,
            client,
            &token.user_id,
            &token.scope,
            (token.grant_id, claims.grant_created_at),
            now,
        )
    });
    let refresh_value = match &refresh {
        Some((t, _)) => t.value.clone(),
        // Without rotation the client keeps using the token it has; sending
        // it back costs nothing and suits clients that expect one.
        None => presented.to_owned(),
    };
    let retire_old = rotating.then(|| RefreshState::Rotated {
        at: now,
        sealed_successor: tokens::seal_successor(
            presented,
            &Successor {
                access_token: &access.value,
                access_expires_at: access.record.expires_at,
                refresh_token: &refresh_value,
                scope: &access_scope,
            },
        ),
    });
    // The record moves into the write; the answer needs only its expiry.
    let access_expires_at = access.record.expires_at;
    let rotation = Rotation {
        grant_id: token.grant_id,
        old: hash,
        retire_old,
        access: access.stored.map(|hash| (hash, access.record)),
        access_expires_at,
        refresh: refresh.map(|(t, r)| (t.hash, r)),
    };
    match ctx.store.rotate_refresh_token(&rotation, now).await {
        Ok(()) => Ok(Rotated::Done(TokenResponse {
            expires_in: access_expires_at - now,
            access_token: access.value,
            token_type: "Bearer",
            refresh_token: Some(refresh_value),
            scope: access_scope,
        })),
        // The token is not (or no longer) active, or its grant not: another
        // request rotated it first (a concurrent retry), it was rotated long
        // ago (its claims brought it here unread), or the grant was revoked
        // or has expired. What is stored decides.
        Err(RotateError::Conflict) => {
            let again = ctx.store.get_refresh_token(&hash, now).await?;
            match decide(again.as_ref(), client, now) {
                RefreshValidity::RotatedWithinGrace => {
                    replay_successor(again.as_ref(), presented, now).map(Rotated::Done)
                }
                RefreshValidity::RotatedAfterGrace => Err(reuse(ctx, again.as_ref(), now).await),
                RefreshValidity::Usable => {
                    read_claims(again).map(Rotated::Retry).ok_or_else(invalid)
                }
                RefreshValidity::Invalid => Err(invalid()),
            }
        }
        Err(RotateError::Store(e)) => Err(e.into()),
    }
}

fn replay_successor(
    lookup: Option<&RefreshLookup>,
    presented: &str,
    now: UnixTime,
) -> Result<TokenResponse, OAuthError> {
    let Some(RefreshState::Rotated {
        sealed_successor, ..
    }) = lookup.map(|l| &l.token.state)
    else {
        return Err(invalid());
    };
    let successor = tokens::open_successor(presented, sealed_successor).ok_or_else(invalid)?;
    Ok(TokenResponse {
        access_token: successor.access_token,
        token_type: "Bearer",
        expires_in: (successor.access_expires_at - now).max(0),
        refresh_token: Some(successor.refresh_token),
        scope: successor.scope,
    })
}

async fn reuse(
    ctx: &GrantContext<'_>,
    lookup: Option<&RefreshLookup>,
    now: UnixTime,
) -> OAuthError {
    if let Some(lookup) = lookup {
        let token = &lookup.token;
        Audit::new(AuditEvent::RefreshReuseDetected)
            .client(&token.client_id)
            .user(&token.user_id)
            .grant(token.grant_id)
            .remote(ctx.remote_addr)
            .emit(ctx.metrics);
        match ctx.store.revoke_grant(&token.grant_id, now).await {
            Ok(true) => Audit::new(AuditEvent::GrantRevoked {
                reason: RevokeReason::RefreshReuse,
            })
            .client(&token.client_id)
            .user(&token.user_id)
            .grant(token.grant_id)
            .remote(ctx.remote_addr)
            .emit(ctx.metrics),
            Ok(false) => {}
            Err(e) => return e.into(),
        }
    }
    invalid()
}

fn invalid() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the refresh token is invalid, expired or revoked",
    )
}
