//! The pure decisions of App-to-App linking: the two URLs the app opens,
//! whether a returned state may be used, what a round of enablement
//! attempts amounts to, and which existing grant an already-linked skill
//! stands on.

use url::Url;

use super::alexa_api::AlexaApiError;
use super::error::AppToAppError;
use crate::config::SkillStage;
use crate::config::app_to_app::AMAZON_ACCOUNT_LINKING_SCOPE;
use crate::store::{AppLinkStateRecord, GrantId, GrantRecord};

/// The Alexa app URL and the Login with Amazon fallback, both asking for
/// an Amazon authorization code for `redirect_uri` with `state`.
pub fn consent_urls(
    alexa_app: &Url,
    lwa_authorize: &Url,
    lwa_client_id: &str,
    stage: SkillStage,
    redirect_uri: &str,
    state: &str,
) -> (Url, Url) {
    let request = [
        ("client_id", lwa_client_id),
        ("scope", AMAZON_ACCOUNT_LINKING_SCOPE),
        ("skill_stage", stage.as_str()),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("state", state),
    ];
    let mut app = alexa_app.clone();
    app.query_pairs_mut()
        .append_pair("fragment", "skill-account-linking-consent")
        .extend_pairs(request);
    let mut lwa = lwa_authorize.clone();
    lwa.query_pairs_mut().extend_pairs(request);
    (app, lwa)
}

/// A taken state may complete the linking only for the user who started
/// it (another user's state is as good as none: it was consumed anyway, so
/// it cannot be tried twice).
pub fn check_state(
    taken: Option<AppLinkStateRecord>,
    user_id: &str,
) -> Result<AppLinkStateRecord, AppToAppError> {
    match taken {
        Some(state) if state.user_id == user_id => Ok(state),
        _ => Err(AppToAppError::InvalidState),
    }
}

/// The error of a round in which no endpoint enabled the skill: a 503 if
/// any failure was transient (a retry may succeed), otherwise Alexa's last
/// refusal.
pub fn no_endpoint_enabled(failures: Vec<AlexaApiError>) -> AppToAppError {
    if let Some(transient) = failures.iter().find(|f| f.is_transient()) {
        return AppToAppError::from_alexa(transient.clone());
    }
    match failures.into_iter().last() {
        Some(last) => AppToAppError::from_alexa(last),
        None => AppToAppError::BadGateway("Alexa named no endpoint".into()),
    }
}

/// After every endpoint was asked and none had the enablement: fine when
/// one answered "not here" and no failure was transient (a retry could
/// find it), otherwise the round's error.
pub fn nothing_found(answered: bool, failures: Vec<AlexaApiError>) -> Result<(), AppToAppError> {
    if answered && !failures.iter().any(AlexaApiError::is_transient) {
        Ok(())
    } else {
        Err(no_endpoint_enabled(failures))
    }
}

/// The user's newest active grant of `alexa_client`: what an already
/// linked skill stands on.
pub fn newest_grant(grants: &[(GrantId, GrantRecord)], alexa_client: &str) -> Option<GrantId> {
    grants
        .iter()
        .filter(|(_, g)| g.client_id == alexa_client)
        .max_by_key(|(_, g)| g.created_at)
        .map(|(id, _)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &Url) -> Vec<(String, String)> {
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn both_urls_ask_for_the_account_linking_scope_with_the_state() {
        let (app, lwa) = consent_urls(
            &Url::parse("https://alexa.amazon.com/spa/skill-account-linking-consent").expect("url"),
            &Url::parse("https://www.amazon.com/ap/oa").expect("url"),
            "amzn1.application-oa2-client.x",
            SkillStage::Live,
            "https://app.example.com/alexa",
            "st",
        );
        assert_eq!(
            app.as_str(),
            "https://alexa.amazon.com/spa/skill-account-linking-consent?fragment=skill-account-linking-consent&client_id=amzn1.application-oa2-client.x&scope=alexa%3A%3Askills%3Aaccount_linking&skill_stage=live&response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Falexa&state=st"
        );
        let q = query(&lwa);
        assert!(q.contains(&("state".into(), "st".into())));
        assert!(q.contains(&("scope".into(), AMAZON_ACCOUNT_LINKING_SCOPE.into())));
        assert!(q.contains(&(
            "redirect_uri".into(),
            "https://app.example.com/alexa".into()
        )));
        assert_eq!(lwa.path(), "/ap/oa");
    }

    #[test]
    fn a_state_serves_only_its_own_user() {
        let state = AppLinkStateRecord {
            user_id: "ann".into(),
            skill: "s".into(),
            redirect_uri: "https://app.example.com/alexa".into(),
            expires_at: 10,
        };
        assert!(check_state(Some(state.clone()), "ann").is_ok());
        assert!(matches!(
            check_state(Some(state), "bob"),
            Err(AppToAppError::InvalidState)
        ));
        assert!(matches!(
            check_state(None, "ann"),
            Err(AppToAppError::InvalidState)
        ));
    }

    #[test]
    fn a_transient_failure_anywhere_makes_the_round_retryable() {
        let rejected = || AlexaApiError::Rejected {
            status: 403,
            message: "no".into(),
        };
        assert!(matches!(
            no_endpoint_enabled(vec![rejected(), AlexaApiError::Unavailable("5xx".into())]),
            AppToAppError::Unavailable(_)
        ));
        assert!(matches!(
            no_endpoint_enabled(vec![rejected()]),
            AppToAppError::AlexaRejected { status: 403, .. }
        ));
    }

    #[test]
    fn a_none_here_answer_without_transient_failures_means_not_enabled() {
        let rejected = || AlexaApiError::Rejected {
            status: 403,
            message: "other region".into(),
        };
        assert!(nothing_found(true, vec![rejected()]).is_ok());
        assert!(matches!(
            nothing_found(true, vec![AlexaApiError::Unavailable("5xx".into())]),
            Err(AppToAppError::Unavailable(_))
        ));
        assert!(matches!(
            nothing_found(false, vec![rejected()]),
            Err(AppToAppError::AlexaRejected { .. })
        ));
    }

    #[test]
    fn the_newest_grant_of_the_alexa_client_is_chosen() {
        let grant = |client: &str, created_at| {
            (
                GrantId::generate(),
                GrantRecord {
                    client_id: client.into(),
                    user_id: Some("ann".into()),
                    scope: String::new(),
                    created_at,
                    expires_at: None,
                    revoked_at: None,
                },
            )
        };
        let grants = vec![grant("alexa", 1), grant("alexa", 5), grant("app", 9)];
        assert_eq!(newest_grant(&grants, "alexa"), Some(grants[1].0));
        assert_eq!(newest_grant(&grants, "other"), None);
    }
}
