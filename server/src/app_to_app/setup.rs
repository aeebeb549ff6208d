//! The `appToApp` config resolved at start into what the flows use: each
//! skill with its Alexa client and the LWA client id the Alexa app is
//! opened with, and one Alexa API client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::alexa_api::AlexaApi;
use super::error::AppToAppError;
use crate::config::{AppToAppSkill, Config};
use crate::oauth::clients::{Client, ClientRegistry};
use crate::oauth::error::OAuthError;
use crate::routes;

/// One skill, resolved.
#[derive(Debug)]
pub struct Skill {
    /// Its configuration.
    pub config: AppToAppSkill,
    /// Our client that Alexa uses for it.
    pub alexa_client: Arc<Client>,
    /// The redirect URI given to Alexa with our code.
    pub alexa_redirect_uri: String,
    /// Scopes of the code minted for Alexa.
    pub scopes: Vec<String>,
    /// The skill's LWA client id (the console's "Alexa Client Id"), which
    /// the Alexa app and LWA are opened with.
    pub lwa_client_id: String,
}

/// App-to-App linking, ready to serve.
#[derive(Debug)]
pub struct AppToApp {
    skills: Vec<Skill>,
    /// The Alexa API client.
    pub alexa: AlexaApi,
    /// The Alexa app URL the developer's app opens.
    pub alexa_app_url: Url,
    /// The Login with Amazon fallback URL.
    pub lwa_authorize_url: Url,
    /// Lifetime of a started linking's state.
    pub state_lifetime_seconds: i64,
    /// Attempts of a transiently failing Amazon call.
    pub max_attempts: u32,
    /// The web variant's redirect URI (on this server).
    pub web_redirect_uri: String,
}

impl AppToApp {
    /// Resolves a validated config; `None` when the section is absent.
    pub fn new(
        config: &Config,
        clients: &ClientRegistry,
        read_secret: impl Fn(&Path) -> Result<String, String>,
    ) -> Result<Option<AppToApp>, String> {
        let Some(section) = &config.app_to_app else {
            return Ok(None);
        };
        let mut skills = Vec::new();
        for s in &section.skills {
            let alexa_client = clients
                .get(&s.alexa_client)
                .ok_or_else(|| format!("skill {}: no client {}", s.id, s.alexa_client))?
                .clone();
            let alexa_redirect_uri = match &s.alexa_redirect_uri {
                Some(uri) => uri.clone(),
                None => alexa_client.redirect_uris.first().cloned().ok_or_else(|| {
                    format!("skill {}: the Alexa client has no redirect URI", s.id)
                })?,
            };
            let scopes = if s.scopes.is_empty() {
                alexa_client.config.scopes.clone()
            } else {
                s.scopes.clone()
            };
            let partner = config
                .partners
                .iter()
                .find(|p| p.id == s.partner)
                .ok_or_else(|| format!("skill {}: no partner {}", s.id, s.partner))?;
            let lwa_client_id = read_secret(&partner.client_id_file).map_err(|e| {
                format!(
                    "skill {}: failed to read the partner's clientIdFile {}: {e}",
                    s.id,
                    partner.client_id_file.display()
                )
            })?;
            skills.push(Skill {
                config: s.clone(),
                alexa_client,
                alexa_redirect_uri,
                scopes,
                lwa_client_id,
            });
        }
        let alexa = AlexaApi::new(
            section.effective_alexa_api_url(),
            Duration::from_secs(section.request_timeout_seconds),
            section.max_attempts,
        )?;
        Ok(Some(AppToApp {
            skills,
            alexa,
            alexa_app_url: section.effective_alexa_app_url(),
            lwa_authorize_url: section.effective_lwa_authorize_url(),
            state_lifetime_seconds: section.state_lifetime_seconds as i64,
            max_attempts: section.max_attempts,
            web_redirect_uri: routes::url(&config.server.public_url, routes::APP_TO_APP_CALLBACK),
        }))
    }

    /// The skill named `id`, or the only one when none is named.
    pub fn skill(&self, id: Option<&str>) -> Result<&Skill, AppToAppError> {
        match id {
            Some(id) => self
                .skills
                .iter()
                .find(|s| s.config.id == id)
                .ok_or_else(|| OAuthError::invalid_request(format!("unknown skill {id:?}")).into()),
            None if self.skills.len() == 1 => Ok(&self.skills[0]),
            None => Err(OAuthError::invalid_request(
                "skill is required: several skills are configured",
            )
            .into()),
        }
    }

    /// The skills whose Alexa client is `client_id`.
    pub fn skills_of_alexa_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> impl Iterator<Item = &'a Skill> + 'a {
        self.skills
            .iter()
            .filter(move |s| s.alexa_client.id() == client_id)
    }

    /// Whether `uri` may receive Amazon's code for `skill`: one of the
    /// app's registered URIs (exactly), or this server's web variant.
    pub fn allows_redirect(&self, skill: &Skill, uri: &str) -> bool {
        uri == self.web_redirect_uri || skill.config.app_redirect_uris.iter().any(|r| r == uri)
    }
}
