//! `appToApp`: App-to-App account linking, where the skill developer's app
//! (or website) links a signed-in user to the skill in one tap, and the
//! Alexa app hands a linking request to the developer's app.
//!
//! Each skill names a `partners[]` entry for its Login with Amazon
//! credentials and region (the skill's "Alexa Client Id" and secret), so
//! the Amazon tokens App-to-App obtains are kept, refreshed and served by
//! the same custody as those of mutual linking.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Errors;
use crate::rules::{is_simple_id, url_is_loopback};
use crate::{ClientConfig, PartnerConfig, check_redirect_uri};

/// The scope a user access token of the developer's app needs to call the
/// App-to-App endpoints.
pub const APP_TO_APP_SCOPE: &str = "alexa_app_link";
/// The scope the Amazon authorization code is requested with.
pub const AMAZON_ACCOUNT_LINKING_SCOPE: &str = "alexa::skills:account_linking";
/// Default `stateLifetimeSeconds`: Amazon's codes live five minutes; the
/// user may take a while in the Alexa app before one is issued.
pub const DEFAULT_STATE_LIFETIME_SECONDS: u64 = 600;
/// Default `requestTimeoutSeconds` of one call to the Alexa API.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 5;
/// Default `maxAttempts` of a call that failed transiently (5xx, 429,
/// timeout) before the caller gets a 503.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// The Alexa API (`alexaApiEndpoint` and, in North America, the skill
/// enablement API).
pub const DEFAULT_ALEXA_API_URL: &str = "https://api.amazonalexa.com";
/// The Alexa app's account-linking consent page (a universal link / app
/// link that opens the Alexa app when it is installed).
pub const DEFAULT_ALEXA_APP_URL: &str =
    "https://alexa.amazon.com/spa/skill-account-linking-consent";
/// Login with Amazon's authorization page, the fallback without the Alexa app.
pub const DEFAULT_LWA_AUTHORIZE_URL: &str = "https://www.amazon.com/ap/oa";

/// The `appToApp` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppToAppConfig {
    /// The skills users can link from the developer's app.
    pub skills: Vec<AppToAppSkill>,
    /// How long a started linking waits for Amazon's code (60 to 1800 seconds).
    #[serde(default = "default_state_lifetime")]
    pub state_lifetime_seconds: u64,
    /// Timeout of one call to the Alexa API (1 to 30 seconds).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Attempts of an Alexa or LWA call that failed transiently (1 to 5).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Overrides the Alexa API base URL, where `/v1/alexaApiEndpoint` is
    /// asked (tests and proxies; http only on loopback). The enablement
    /// API is then called on this URL too, whatever endpoint it names.
    #[serde(default)]
    pub alexa_api_url: Option<Url>,
    /// Overrides the Alexa app URL the app opens (tests).
    #[serde(default)]
    pub alexa_app_url: Option<Url>,
    /// Overrides the Login with Amazon authorization URL (tests).
    #[serde(default)]
    pub lwa_authorize_url: Option<Url>,
}

/// A skill's stage: the one enabled for a user, or the one SMAPI configures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum SkillStage {
    /// The skill in development (the developer's own accounts and beta testers).
    #[default]
    Development,
    /// The published skill.
    Live,
}

impl SkillStage {
    /// The wire name Alexa uses (in SMAPI paths too).
    pub fn as_str(self) -> &'static str {
        match self {
            SkillStage::Development => "development",
            SkillStage::Live => "live",
        }
    }
}

/// One skill linked through App-to-App.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppToAppSkill {
    /// Our name for it, used in the endpoints' `skill` parameter.
    pub id: String,
    /// The skill id (`amzn1.ask.skill.…`).
    pub skill_id: String,
    /// Which stage is enabled for users.
    #[serde(default)]
    pub stage: SkillStage,
    /// The `partners[].id` holding the skill's Login with Amazon client id
    /// and secret (the console's "Alexa Client Id") and region.
    pub partner: String,
    /// Our OAuth client that Alexa uses for this skill (it redeems the code
    /// this server mints).
    pub alexa_client: String,
    /// Which of that client's redirect URIs goes into the enablement request
    /// (default: its first).
    #[serde(default)]
    pub alexa_redirect_uri: Option<String>,
    /// Our OAuth clients (the developer's apps) whose users' access tokens,
    /// with the `alexa_app_link` scope, may call the App-to-App endpoints.
    pub app_clients: Vec<String>,
    /// The app's redirect URIs that Amazon sends the code to (universal
    /// links / app links), matched exactly. The server's own web variant
    /// (`<publicUrl>/oauth/app-to-app/callback`) is always allowed.
    #[serde(default)]
    pub app_redirect_uris: Vec<String>,
    /// Scopes of the code minted for Alexa (default: all of the Alexa
    /// client's scopes).
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl AppToAppConfig {
    /// Where `/v1/alexaApiEndpoint` is asked.
    pub fn effective_alexa_api_url(&self) -> Url {
        self.alexa_api_url
            .clone()
            .unwrap_or_else(|| Url::parse(DEFAULT_ALEXA_API_URL).expect("static URL parses"))
    }

    /// The Alexa app URL.
    pub fn effective_alexa_app_url(&self) -> Url {
        self.alexa_app_url
            .clone()
            .unwrap_or_else(|| Url::parse(DEFAULT_ALEXA_APP_URL).expect("static URL parses"))
    }

    /// The Login with Amazon authorization URL.
    pub fn effective_lwa_authorize_url(&self) -> Url {
        self.lwa_authorize_url
            .clone()
            .unwrap_or_else(|| Url::parse(DEFAULT_LWA_AUTHORIZE_URL).expect("static URL parses"))
    }
}

fn default_state_lifetime() -> u64 {
    DEFAULT_STATE_LIFETIME_SECONDS
}
fn default_request_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECONDS
}
fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}

/// Checks the section against the clients and partners it names.
pub(crate) fn validate(
    section: Option<&AppToAppConfig>,
    clients: &[ClientConfig],
    partners: &[PartnerConfig],
    errors: &mut Errors,
) {
    let Some(a) = section else { return };
    if a.skills.is_empty() {
        errors.push("appToApp.skills", "name at least one skill");
    }
    if !(60..=1800).contains(&a.state_lifetime_seconds) {
        errors.push(
            "appToApp.stateLifetimeSeconds",
            format!(
                "must be between 60 and 1800, got {}",
                a.state_lifetime_seconds
            ),
        );
    }
    if !(1..=30).contains(&a.request_timeout_seconds) {
        errors.push(
            "appToApp.requestTimeoutSeconds",
            format!(
                "must be between 1 and 30, got {}",
                a.request_timeout_seconds
            ),
        );
    }
    if !(1..=5).contains(&a.max_attempts) {
        errors.push(
            "appToApp.maxAttempts",
            format!("must be between 1 and 5, got {}", a.max_attempts),
        );
    }
    for (field, url) in [
        ("alexaApiUrl", &a.alexa_api_url),
        ("alexaAppUrl", &a.alexa_app_url),
        ("lwaAuthorizeUrl", &a.lwa_authorize_url),
    ] {
        if let Some(url) = url
            && url.scheme() != "https"
            && !url_is_loopback(url)
        {
            errors.push(
                format!("appToApp.{field}"),
                "must be https:// (http:// only for loopback hosts)",
            );
        }
    }
    let mut ids = HashSet::new();
    for (i, skill) in a.skills.iter().enumerate() {
        let path = format!("appToApp.skills[{i}]");
        if !is_simple_id(&skill.id) {
            errors.push(
                format!("{path}.id"),
                "must be letters, digits, '-', '_' or '.'",
            );
        } else if !ids.insert(skill.id.as_str()) {
            errors.push(
                format!("{path}.id"),
                format!("duplicate skill id {:?}", skill.id),
            );
        }
        // It goes into a URL path at Alexa.
        if !skill.skill_id.starts_with("amzn1.") || !is_simple_id(&skill.skill_id) {
            errors.push(
                format!("{path}.skillId"),
                "must be a skill id (amzn1.ask.skill.…)",
            );
        }
        if !partners.iter().any(|p| p.id == skill.partner) {
            errors.push(
                format!("{path}.partner"),
                format!("no partner {:?} is configured", skill.partner),
            );
        }
        match clients.iter().find(|c| c.client_id == skill.alexa_client) {
            None => errors.push(
                format!("{path}.alexaClient"),
                format!("no client {:?} is configured", skill.alexa_client),
            ),
            Some(alexa) => {
                // Alexa always authenticates with the console's secret.
                if alexa.public {
                    errors.push(
                        format!("{path}.alexaClient"),
                        format!(
                            "client {:?} is public; Alexa's client is confidential",
                            skill.alexa_client
                        ),
                    );
                }
                let uris = alexa.effective_redirect_uris();
                match &skill.alexa_redirect_uri {
                    Some(uri) if !uris.contains(uri) => errors.push(
                        format!("{path}.alexaRedirectUri"),
                        "must be one of the Alexa client's redirect URIs",
                    ),
                    None if uris.is_empty() => errors.push(
                        format!("{path}.alexaClient"),
                        "the Alexa client has no redirect URI",
                    ),
                    _ => {}
                }
                for (j, s) in skill.scopes.iter().enumerate() {
                    if !alexa.scopes.contains(s) {
                        errors.push(
                            format!("{path}.scopes[{j}]"),
                            format!("the Alexa client may not ask for {s:?}"),
                        );
                    }
                }
            }
        }
        if skill.app_clients.is_empty() {
            errors.push(format!("{path}.appClients"), "name at least one client");
        }
        for (j, id) in skill.app_clients.iter().enumerate() {
            match clients.iter().find(|c| &c.client_id == id) {
                None => errors.push(
                    format!("{path}.appClients[{j}]"),
                    format!("no client {id:?} is configured"),
                ),
                Some(c) if !c.scopes.iter().any(|s| s == APP_TO_APP_SCOPE) => errors.push(
                    format!("{path}.appClients[{j}]"),
                    format!("client {id:?} must list the {APP_TO_APP_SCOPE} scope"),
                ),
                Some(_) => {}
            }
        }
        for (j, uri) in skill.app_redirect_uris.iter().enumerate() {
            if let Err(e) = check_redirect_uri(uri) {
                errors.push(format!("{path}.appRedirectUris[{j}]"), e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};
    use crate::{LwaRegion, PartnerConfig};

    fn section() -> AppToAppConfig {
        AppToAppConfig {
            skills: vec![AppToAppSkill {
                id: "baby".into(),
                skill_id: "amzn1.ask.skill.0123".into(),
                stage: SkillStage::Live,
                partner: "amazon".into(),
                alexa_client: "alexa".into(),
                alexa_redirect_uri: None,
                app_clients: vec!["app".into()],
                app_redirect_uris: vec!["https://app.example.com/alexa".into()],
                scopes: vec!["profile".into()],
            }],
            state_lifetime_seconds: DEFAULT_STATE_LIFETIME_SECONDS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            alexa_api_url: None,
            alexa_app_url: None,
            lwa_authorize_url: None,
        }
    }

    fn config() -> crate::Config {
        let mut c = minimal();
        let mut app = c.clients[0].clone();
        app.client_id = "app".into();
        // The app is a public client, as the README configures it.
        app.public = true;
        app.client_secret_file = None;
        app.alexa_vendor_id = None;
        app.redirect_uris = vec!["https://app.example.com/cb".into()];
        app.scopes = vec![APP_TO_APP_SCOPE.into()];
        c.clients.push(app);
        c.partners.push(PartnerConfig {
            id: "amazon".into(),
            linked_clients: vec!["alexa".into()],
            client_id_file: "/lwa/id".into(),
            client_secret_file: "/lwa/secret".into(),
            region: LwaRegion::Na,
            token_url: None,
            scopes: vec![],
            refresh_margin_seconds: 300,
            request_timeout_seconds: 5,
            ca_file: None,
        });
        c.encryption_key_files.push("/keys/1".into());
        c.app_to_app = Some(section());
        c
    }

    #[test]
    fn a_skill_links_known_clients_and_partners() {
        let c = config();
        assert_eq!(c.validate(), Ok(()));
        let a = c.app_to_app.as_ref().expect("section");
        assert_eq!(
            a.effective_alexa_api_url().as_str(),
            "https://api.amazonalexa.com/"
        );
        assert_eq!(
            crate::Config::from_yaml(&c.to_yaml()).expect("reparses"),
            c,
            "the section round-trips"
        );
    }

    #[test]
    fn every_reference_and_limit_is_checked() {
        let mut c = config();
        let a = c.app_to_app.as_mut().expect("section");
        a.state_lifetime_seconds = 10;
        a.alexa_api_url = Some(Url::parse("http://alexa.example.com").expect("url"));
        let s = &mut a.skills[0];
        s.skill_id = "../users".into();
        s.partner = "nobody".into();
        s.alexa_redirect_uri = Some("https://evil.example/cb".into());
        s.scopes = vec!["admin".into()];
        s.app_clients = vec!["alexa".into(), "ghost".into()];
        s.app_redirect_uris = vec!["not a url".into()];
        assert_eq!(
            invalid_fields(&c),
            vec![
                "appToApp.stateLifetimeSeconds",
                "appToApp.alexaApiUrl",
                "appToApp.skills[0].skillId",
                "appToApp.skills[0].partner",
                "appToApp.skills[0].alexaRedirectUri",
                "appToApp.skills[0].scopes[0]",
                "appToApp.skills[0].appClients[0]",
                "appToApp.skills[0].appClients[1]",
                "appToApp.skills[0].appRedirectUris[0]",
            ]
        );
    }

    #[test]
    fn alexas_client_is_never_the_public_app_client() {
        let mut c = config();
        c.partners[0].linked_clients = vec!["app".into()];
        c.app_to_app.as_mut().expect("section").skills[0].alexa_client = "app".into();
        let fields = invalid_fields(&c);
        for field in [
            "partners[0].linkedClients[0]",
            "appToApp.skills[0].alexaClient",
        ] {
            assert!(fields.iter().any(|f| f == field), "{field}: {fields:?}");
        }
    }

    #[test]
    fn loopback_http_is_accepted_for_tests() {
        let mut c = config();
        let a = c.app_to_app.as_mut().expect("section");
        a.alexa_api_url = Some(Url::parse("http://127.0.0.1:9/").expect("url"));
        a.lwa_authorize_url = Some(Url::parse("http://localhost:9/ap/oa").expect("url"));
        assert_eq!(c.validate(), Ok(()));
    }
}
