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

/// Whether the `code_verifier` proves the code's `code_challenge` (RFC 7636
/// 4.6), or why not. A public client's code must have a challenge whatever
/// its policy was when the code was issued: without one, a code is a
/// bearer credential that any app catching the redirect could redeem.
fn check_pkce(
    challenge: Option<&str>,
    verifier: Option<&str>,
    public_client: bool,
) -> Result<(), &'static str> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) if pkce::verify(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err("code_verifier does not match the code_challenge"),
        (Some(_), None) => Err("code_verifier is required for this code"),
        // RFC 9700 2.1.1: a verifier for a code issued without a challenge
        // points at a downgrade attempt.
        (None, Some(_)) => Err("this code was issued without a code_challenge"),
        (None, None) if public_client => {
            Err("a public client's code must be issued with a code_challenge (PKCE)")
        }
        (None, None) => Ok(()),
    }
}

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
    check_pkce(
        record.code_challenge.as_deref(),
        params.get("code_verifier"),
        client.is_public(),
    )
    .map_err(OAuthError::invalid_grant)?;

    let grant_id = GrantId::generate();
    let policy = &client.config.refresh_token;
    let access = mint_access(
        ctx,
        client,
        Some(&record.user_id),
        &record.scope,
        Some(grant_id),
        now,
    )?;
    let refresh = client.allows(GrantType::RefreshToken).then(|| {
        mint_refresh(
            ctx,
            client,
            &record.user_id,
            &record.scope,
            (grant_id, now),
            now,
        )
    });
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
        access: access.store_entry(),
        access_expires_at: access.record.expires_at,
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
        expires_in: access.record.expires_at - now,
        access_token: access.value,
        token_type: "Bearer",
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

#[cfg(test)]
mod tests {
    use super::check_pkce;
    use crate::oauth::pkce;

    #[test]
    fn a_code_is_proved_by_its_verifier_and_a_public_clients_code_always_needs_one() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = pkce::challenge_of(verifier);
        let c = Some(challenge.as_str());
        for public in [false, true] {
            assert_eq!(check_pkce(c, Some(verifier), public), Ok(()));
            assert!(check_pkce(c, Some(&verifier.replace('k', "x")), public).is_err());
            assert!(check_pkce(c, None, public).is_err());
            assert!(check_pkce(None, Some(verifier), public).is_err());
        }
        assert_eq!(
            check_pkce(None, None, false),
            Ok(()),
            "a confidential opt-out"
        );
        assert!(check_pkce(None, None, true).is_err());
    }
}
