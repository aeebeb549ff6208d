//! The server side of App-to-App linking, shared by the app's API and the
//! web variant: start, complete, status, unlink, and the Alexa-app-first
//! direction (mint a code for a forwarded authorization request).
//!
//! `complete` runs Amazon's documented sequence: exchange the Amazon code
//! at LWA, ask `alexaApiEndpoint` where the user's account lives, mint our
//! code for Alexa, and enable the skill at each endpoint until one accepts;
//! Alexa redeems our code at our token endpoint during that call. The
//! Amazon tokens are kept on the grant Alexa got. Whatever fails after
//! Alexa got a grant is undone (skill disabled, grant revoked), so a user
//! is either linked on both sides or on neither.

use serde::Serialize;

use super::alexa_api::{AlexaApiError, EnableOutcome, Enablement};
use super::amazon;
use super::decide;
use super::error::AppToAppError;
use super::setup::{AppToApp, Skill};
use crate::app::AppState;
use crate::oauth::authorize::{AuthorizationRequest, AuthorizeError, redirect_with};
use crate::oauth::error::OAuthError;
use crate::oauth::form::Params;
use crate::partner::Partner;
use crate::store::{AppLinkStateRecord, GrantId, UnixTime};
use crate::tokens::{self, NewToken, TokenHash};
use crate::web::consent::store_code;

/// What `start` hands the app.
#[derive(Debug, Serialize)]
pub struct Started {
    /// Open this to ask for consent in the Alexa app.
    pub alexa_app_url: String,
    /// Or this, when the Alexa app is not installed.
    pub lwa_fallback_url: String,
    /// The single-use state both URLs carry.
    pub state: String,
    /// Seconds the state stays usable.
    pub expires_in: i64,
}

/// The link between the user and the skill, as Alexa reports it.
#[derive(Debug, Serialize)]
pub struct LinkStatus {
    /// Our name of the skill.
    pub skill: String,
    /// The skill id.
    pub skill_id: String,
    /// `ENABLED`, …, or `NOT_ENABLED` when Alexa knows no enablement.
    pub status: String,
    /// `LINKED`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_link: Option<String>,
    /// The partner under which the user's Amazon tokens are kept (for
    /// `/api/partner/token`).
    pub partner_id: String,
}

impl LinkStatus {
    fn of(skill: &Skill, enablement: Option<Enablement>) -> LinkStatus {
        let (status, account_link) = match enablement {
            Some(e) => (e.status, e.account_link.map(|l| l.status)),
            None => ("NOT_ENABLED".to_owned(), None),
        };
        LinkStatus {
            skill: skill.config.id.clone(),
            skill_id: skill.config.skill_id.clone(),
            status,
            account_link,
            partner_id: skill.config.partner.clone(),
        }
    }
}

fn partner<'a>(app: &'a AppState, skill: &Skill) -> Result<&'a Partner, AppToAppError> {
    Ok(app.partners.resolve(Some(&skill.config.partner))?)
}

/// Starts a linking for `user_id`: a single-use state bound to the user,
/// and the two URLs carrying it.
pub async fn start(
    app: &AppState,
    a2a: &AppToApp,
    skill: &Skill,
    user_id: &str,
    redirect_uri: &str,
) -> Result<Started, AppToAppError> {
    if !a2a.allows_redirect(skill, redirect_uri) {
        return Err(OAuthError::invalid_request(
            "redirect_uri is not one of the skill's appRedirectUris",
        )
        .into());
    }
    let state = tokens::random_nonce();
    let record = AppLinkStateRecord {
        user_id: user_id.to_owned(),
        skill: skill.config.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        expires_at: app.clock.now().saturating_add(a2a.state_lifetime_seconds),
    };
    app.store
        .put_app_link_state(&TokenHash::of(&state), &record)
        .await?;
    let (alexa_app_url, lwa_fallback_url) = decide::consent_urls(
        &a2a.alexa_app_url,
        &a2a.lwa_authorize_url,
        &skill.lwa_client_id,
        skill.config.stage,
        redirect_uri,
        &state,
    );
    tracing::info!(%user_id, skill = %skill.config.id, "App-to-App linking started");
    Ok(Started {
        alexa_app_url: alexa_app_url.into(),
        lwa_fallback_url: lwa_fallback_url.into(),
        state,
        expires_in: a2a.state_lifetime_seconds,
    })
}

/// Consumes the state (whatever happens next: it is single-use).
pub async fn take_state(
    app: &AppState,
    state: &str,
    user_id: &str,
) -> Result<AppLinkStateRecord, AppToAppError> {
    let taken = app
        .store
        .take_app_link_state(&TokenHash::of(state), app.clock.now())
        .await?;
    decide::check_state(taken, user_id)
}

/// What an `error` Amazon sent back instead of a code amounts to: the
/// user's refusal is theirs to make (`access_denied`), anything else is
/// Amazon refusing the request.
pub fn amazon_redirect_error(error: &str) -> AppToAppError {
    if error == "access_denied" {
        OAuthError::new(
            crate::oauth::error::ErrorCode::AccessDenied,
            "the user did not allow the link at Amazon",
        )
        .into()
    } else {
        AppToAppError::AmazonRejected {
            status: 400,
            detail: format!("Amazon returned error={error}"),
        }
    }
}

/// Completes a linking with the Amazon code that came back with `state`,
/// counting its outcome.
pub async fn complete(
    app: &AppState,
    a2a: &AppToApp,
    user_id: &str,
    code: &str,
    state: &str,
) -> Result<LinkStatus, AppToAppError> {
    let result = link(app, a2a, user_id, code, state).await;
    app.metrics.app_to_app(match &result {
        Ok(_) => "linked",
        Err(e) => e.code(),
    });
    result
}

async fn link(
    app: &AppState,
    a2a: &AppToApp,
    user_id: &str,
    code: &str,
    state: &str,
) -> Result<LinkStatus, AppToAppError> {
    let state_key = TokenHash::of(state);
    let state = take_state(app, state, user_id).await?;
    let skill = a2a.skill(Some(&state.skill))?;
    let partner = partner(app, skill)?;
    let lwa = match amazon::exchange(partner, code, &state.redirect_uri, a2a.max_attempts).await {
        Ok(tokens) => tokens,
        Err(e @ AppToAppError::Unavailable(_)) => {
            // LWA never answered: the code is probably unused, so the app
            // may retry `complete` with the same code and state.
            if let Err(put) = app.store.put_app_link_state(&state_key, &state).await {
                tracing::warn!(error = %put, "failed to restore an App-to-App state for a retry");
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let amazon_token = lwa.access_token.clone();
    let endpoints = user_endpoints(a2a, &amazon_token).await?;

    let request = code_request(skill);
    let ours = store_code(app, &request, user_id, app.clock.now()).await?;
    let (endpoint, outcome) =
        match enable_somewhere(a2a, skill, &endpoints, &amazon_token, &ours).await {
            Ok(found) => found,
            Err(e) => {
                // Alexa may have redeemed the code before a later failure.
                revoke_redeemed(app, &ours).await;
                return Err(e);
            }
        };
    let grant = match outcome {
        EnableOutcome::Created => redeemed_grant(app, &ours).await?,
        EnableOutcome::AlreadyEnabled => {
            let grants = app.store.list_user_grants(user_id, app.clock.now()).await?;
            decide::newest_grant(&grants, skill.alexa_client.id())
        }
    };
    let undo = |why: &'static str| async move {
        tracing::warn!(%user_id, skill = %skill.config.id, why, "undoing a half-finished App-to-App link");
        // A 409 found the skill linked before us: not ours to disable.
        if outcome == EnableOutcome::Created
            && let Err(e) = a2a
                .alexa
                .disable(&endpoint, &amazon_token, &skill.config.skill_id)
                .await
        {
            tracing::error!(error = %e, "failed to disable the skill while undoing a link");
        }
        revoke_redeemed(app, &ours).await;
    };
    let Some(grant) = grant else {
        if outcome == EnableOutcome::AlreadyEnabled {
            // Linked for this Amazon account, but on no grant of this user.
            return Err(AppToAppError::AlreadyLinked);
        }
        undo("Alexa enabled the skill without redeeming our code").await;
        return Err(AppToAppError::BadGateway(
            "Alexa enabled the skill but did not redeem the authorization code".into(),
        ));
    };
    match amazon::keep(app, partner, user_id, skill.alexa_client.id(), grant, lwa).await {
        Ok(true) => {}
        Ok(false) => {
            undo("the grant was revoked while linking").await;
            return Err(AppToAppError::InvalidState);
        }
        Err(e) => {
            undo("the Amazon tokens could not be kept").await;
            return Err(e);
        }
    }
    tracing::info!(%user_id, skill = %skill.config.id, already = (outcome == EnableOutcome::AlreadyEnabled), "App-to-App link complete");
    Ok(LinkStatus {
        skill: skill.config.id.clone(),
        skill_id: skill.config.skill_id.clone(),
        status: "ENABLED".into(),
        account_link: Some("LINKED".into()),
        partner_id: skill.config.partner.clone(),
    })
}

/// The authorization request our code for Alexa answers: the skill's
/// client, redirect URI and scopes; no PKCE (Alexa did not start it).
fn code_request(skill: &Skill) -> AuthorizationRequest {
    AuthorizationRequest {
        client: skill.alexa_client.clone(),
        redirect_uri: skill.alexa_redirect_uri.clone(),
        redirect_uri_given: true,
        scopes: skill.scopes.clone(),
        state: None,
        code_challenge: None,
    }
}

/// Tries each endpoint in Alexa's order until one enables the skill (or
/// reports it enabled and linked already).
async fn enable_somewhere(
    a2a: &AppToApp,
    skill: &Skill,
    endpoints: &[url::Url],
    amazon_token: &str,
    ours: &NewToken,
) -> Result<(url::Url, EnableOutcome), AppToAppError> {
    let mut failures = Vec::new();
    for endpoint in endpoints {
        let outcome = a2a
            .alexa
            .enable(
                endpoint,
                amazon_token,
                &skill.config.skill_id,
                skill.config.stage,
                &skill.alexa_redirect_uri,
                &ours.value,
            )
            .await;
        match outcome {
            Ok(EnableOutcome::Created) => return Ok((endpoint.clone(), EnableOutcome::Created)),
            Ok(EnableOutcome::AlreadyEnabled) => {
                // 409: enabled before. Only a linked status counts as done.
                match a2a
                    .alexa
                    .status(endpoint, amazon_token, &skill.config.skill_id)
                    .await
                {
                    Ok(Some(e)) if e.is_linked() => {
                        return Ok((endpoint.clone(), EnableOutcome::AlreadyEnabled));
                    }
                    Ok(other) => failures.push(AlexaApiError::Rejected {
                        status: 409,
                        message: format!(
                            "the skill is already enabled but not linked (status {:?})",
                            other.map(|e| e.status)
                        ),
                    }),
                    Err(e) => failures.push(e),
                }
            }
            Err(e) => {
                tracing::info!(%endpoint, error = %e, "skill enablement failed at this endpoint");
                failures.push(e);
            }
        }
    }
    Err(decide::no_endpoint_enabled(failures))
}

/// The grant Alexa redeemed our code for, if it did.
async fn redeemed_grant(app: &AppState, ours: &NewToken) -> Result<Option<GrantId>, AppToAppError> {
    Ok(app
        .store
        .get_code(&ours.hash, app.clock.now())
        .await?
        .and_then(|c| c.redeemed_for))
}

/// Revokes whatever grant our code became (best effort: logged).
async fn revoke_redeemed(app: &AppState, ours: &NewToken) {
    match redeemed_grant(app, ours).await {
        Ok(Some(grant)) => {
            if let Err(e) = app.store.revoke_grant(&grant, app.clock.now()).await {
                tracing::error!(error = %e, "failed to revoke the grant of an undone App-to-App link");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %e, "failed to read our code while undoing a link"),
    }
}

/// Asks Alexa for the user's link to `skill`, at each endpoint in turn.
pub async fn status(
    app: &AppState,
    a2a: &AppToApp,
    skill: &Skill,
    user_id: &str,
) -> Result<LinkStatus, AppToAppError> {
    let partner = partner(app, skill)?;
    let (token, _) = amazon::access_token(app, partner, user_id)
        .await?
        .ok_or(AppToAppError::NotLinked)?;
    // Another region's endpoint refuses the user: ask each in turn.
    let endpoints = user_endpoints(a2a, &token).await?;
    let (mut failures, mut answered) = (Vec::new(), false);
    for endpoint in &endpoints {
        match a2a
            .alexa
            .status(endpoint, &token, &skill.config.skill_id)
            .await
        {
            Ok(Some(found)) => return Ok(LinkStatus::of(skill, Some(found))),
            Ok(None) => answered = true,
            Err(e) => failures.push(e),
        }
    }
    decide::nothing_found(answered, failures)?;
    Ok(LinkStatus::of(skill, None))
}

async fn user_endpoints(a2a: &AppToApp, token: &str) -> Result<Vec<url::Url>, AppToAppError> {
    a2a.alexa
        .endpoints(token)
        .await
        .map_err(AppToAppError::from_alexa)
}

/// Disables the skill at Alexa, then revokes our grant (which deletes the
/// kept Amazon tokens). If Alexa cannot be reached, nothing changes here,
/// so that the call can be retried.
pub async fn unlink(
    app: &AppState,
    a2a: &AppToApp,
    skill: &Skill,
    user_id: &str,
) -> Result<LinkStatus, AppToAppError> {
    let partner = partner(app, skill)?;
    let (token, link) = amazon::access_token(app, partner, user_id)
        .await?
        .ok_or(AppToAppError::NotLinked)?;
    disable_everywhere(a2a, skill, &token).await?;
    let now = app.clock.now();
    app.store.revoke_grant(&link.grant_id, now).await?;
    app.store
        .delete_partner_link(user_id, &partner.config.id, Some(link.grant_id))
        .await?;
    tracing::info!(%user_id, skill = %skill.config.id, "App-to-App link removed");
    Ok(LinkStatus::of(skill, None))
}

async fn disable_everywhere(
    a2a: &AppToApp,
    skill: &Skill,
    token: &str,
) -> Result<(), AppToAppError> {
    let endpoints = user_endpoints(a2a, token).await?;
    let (mut failures, mut answered) = (Vec::new(), false);
    for endpoint in &endpoints {
        match a2a
            .alexa
            .disable(endpoint, token, &skill.config.skill_id)
            .await
        {
            Ok(true) => return Ok(()),
            Ok(false) => answered = true,
            Err(e) => failures.push(e),
        }
    }
    // Not enabled anywhere that answered: nothing to disable.
    decide::nothing_found(answered, failures)
}

/// Called before our own linked-apps page revokes `grant`: when the grant
/// holds App-to-App Amazon tokens, disable the skill at Alexa too, so both
/// sides agree. Best effort: the user's unlink here must not wait on Amazon.
pub async fn before_grant_revoked(app: &AppState, grant: GrantId, user_id: &str) {
    let Some(a2a) = &app.app_to_app else { return };
    let client_id = match app.store.get_grant(&grant).await {
        Ok(Some(g)) => g.client_id,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the grant being unlinked");
            return;
        }
    };
    for skill in a2a.skills_of_alexa_client(&client_id) {
        let Ok(partner) = partner(app, skill) else {
            continue;
        };
        let kept = match amazon::access_token(app, partner, user_id).await {
            Ok(Some((token, link))) if link.grant_id == grant => token,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, %user_id, "cannot disable the skill at Alexa on unlink");
                continue;
            }
        };
        match disable_everywhere(a2a, skill, &kept).await {
            Ok(()) => {
                tracing::info!(%user_id, skill = %skill.config.id, "skill disabled at Alexa on unlink")
            }
            Err(e) => {
                tracing::warn!(error = %e, %user_id, skill = %skill.config.id, "failed to disable the skill at Alexa on unlink")
            }
        }
    }
}

/// The answer to a forwarded Alexa authorization request.
#[derive(Debug, Serialize)]
pub struct Minted {
    /// Where the app sends the user: Alexa's redirect URI with `code`,
    /// `state` and `source=app`.
    pub redirect_to: String,
}

/// Why a forwarded authorization request was refused.
#[derive(Debug)]
pub enum MintError {
    /// Not trustworthy enough to redirect (unknown client or redirect URI).
    Untrusted(OAuthError),
    /// Send the user back to Alexa with this error redirect.
    Redirect {
        /// The error.
        error: OAuthError,
        /// Alexa's redirect URI with `error` and `state`.
        redirect_to: String,
    },
    /// Something else went wrong.
    Failed(AppToAppError),
}

/// The Alexa-app-first direction: Alexa opened the app with an
/// authorization request; the app's signed-in user agreed. Validated
/// exactly as `/oauth/authorize` validates, then answered with a code.
pub async fn mint_for_alexa(
    app: &AppState,
    a2a: &AppToApp,
    user_id: &str,
    app_client: &str,
    params: &Params,
) -> Result<Minted, MintError> {
    let request = match AuthorizationRequest::validate(params, &app.clients) {
        Ok(r) => r,
        Err(AuthorizeError::Untrusted(message)) => {
            return Err(MintError::Untrusted(OAuthError::invalid_request(message)));
        }
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        }) => {
            let redirect_to = redirect_with(
                &redirect_uri,
                app.issuer(),
                &[
                    ("error", error.code.as_str()),
                    ("error_description", &error.description),
                ],
                state.as_deref(),
            );
            return Err(MintError::Redirect { error, redirect_to });
        }
    };
    let served_by_app = a2a
        .skills_of_alexa_client(request.client.id())
        .any(|s| s.config.app_clients.iter().any(|c| c == app_client));
    if !served_by_app {
        return Err(MintError::Untrusted(OAuthError::invalid_request(
            "client_id is not the Alexa client of a skill this app links",
        )));
    }
    let now: UnixTime = app.clock.now();
    let code = store_code(app, &request, user_id, now)
        .await
        .map_err(|e| MintError::Failed(e.into()))?;
    Ok(Minted {
        redirect_to: redirect_with(
            &request.redirect_uri,
            app.issuer(),
            &[("code", code.value.as_str()), ("source", "app")],
            request.state.as_deref(),
        ),
    })
}
