//! `grant_type=authorization_code` (RFC 6749 4.1.3, RFC 7636 4.5).

use subtle::ConstantTimeEq;

use super::{GrantContext, TokenResponse, mint_access, mint_refresh};
use crate::audit::{Audit, AuditEvent, RevokeReason};
use crate::config::GrantType;
use crate::oauth::clients::Client;
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::oauth::pkce;
use crate::store::{AuthCodeRecord, GrantId, GrantRecord, NewGrant, RedeemError};
use crate::tokens::TokenHash;

/// Redeems a code for an access token (and refresh token).
pub async fn exchange(
    ctx: &GrantContext<'_>,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, OAuthError> {
    let code = params.require("code")?;
    let hash = TokenHash::of(code);
    let now = ctx.clock.now();
    let Some(record) = ctx.store.get_code(&hash, now).await? else {
        return Err(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        ));
    };
    if record.client_id != client.id() {
        // Do not reveal that the code exists for another client.
        return Err(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        ));
    }
    if let Some(grant) = record.redeemed_for {
        return Err(replayed(ctx, &record, grant, now).await);
    }
    match (&record.redirect_uri, params.get("redirect_uri")) {
        (Some(expected), Some(given))
            if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) => {}
        (Some(_), _) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri must repeat the authorization request's redirect_uri exactly",
            ));
        }
        (None, _) => {}
    }
    match (&record.code_challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => {}
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier is required for this code",
            ));
        }
        // RFC 9700 2.1.1: a verifier for a code issued without a challenge
        // points at a downgrade attempt.
        (None, Some(_)) => {
            return Err(OAuthError::invalid_grant(
                "this code was issued without a code_challenge",
            ));
        }
        (None, None) => {}
    }

    let grant_id = GrantId::generate();
    let policy = &client.config.refresh_token;
    let (access, access_record) = mint_access(
        client,
        Some(&record.user_id),
        &record.scope,
        Some(grant_id),
        now,
    );
    let refresh = client
        .allows(GrantType::RefreshToken)
        .then(|| mint_refresh(client, &record.user_id, &record.scope, grant_id, now));
    let new_grant = NewGrant {
        grant_id,
        grant: GrantRecord {
            client_id: client.id().to_owned(),
            user_id: Some(record.user_id.clone()),
            scope: record.scope.clone(),
            created_at: now,
            expires_at: policy
                .absolute_lifetime_seconds
                .map(|s| now.saturating_add(s as i64)),
            revoked_at: None,
        },
        access: (access.hash, access_record.clone()),
        refresh: refresh.as_ref().map(|(t, r)| (t.hash, r.clone())),
    };
    match ctx.store.redeem_code(&hash, now, &new_grant).await {
        Ok(()) => Audit::new(AuditEvent::CodeRedeemed)
            .client(client.id())
            .user(&record.user_id)
            .grant(grant_id)
            .remote(ctx.remote_addr)
            .emit(ctx.metrics),
        Err(RedeemError::AlreadyRedeemed(grant)) => {
            return Err(replayed(ctx, &record, grant, now).await);
        }
        Err(RedeemError::NotFound) => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
        Err(RedeemError::Store(e)) => return Err(e.into()),
    }
    Ok(TokenResponse {
        access_token: access.value,
        token_type: "Bearer",
        expires_in: access_record.expires_at - now,
        refresh_token: refresh.map(|(t, _)| t.value),
        scope: record.scope,
    })
}

/// RFC 6749 4.1.2: a code used twice revokes what the first use issued.
async fn replayed(
    ctx: &GrantContext<'_>,
    code: &AuthCodeRecord,
    grant: GrantId,
    now: i64,
) -> OAuthError {
    match ctx.store.revoke_grant(&grant, now).await {
        Ok(true) => Audit::new(AuditEvent::GrantRevoked {
            reason: RevokeReason::CodeReplay,
        })
        .client(&code.client_id)
        .user(&code.user_id)
        .grant(grant)
        .remote(ctx.remote_addr)
        .emit(ctx.metrics),
        Ok(false) => {}
        Err(e) => return e.into(),
    }
    OAuthError::invalid_grant("the authorization code was already used")
}
