//! `partners` and `encryptionKeyFiles`: mutual account linking, the Login
//! with Amazon partners whose tokens this server keeps for its users.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::ClientConfig;
use crate::error::Errors;
use crate::rules::{is_simple_id, url_is_loopback};

/// The scope a `client_credentials` bearer token needs to call
/// `/api/partner/token`.
pub const PARTNER_TOKEN_SCOPE: &str = "partner_token";
/// Default `id`: the one partner a skill has, Amazon.
pub const DEFAULT_PARTNER_ID: &str = "amazon";
/// Default `refreshMarginSeconds`.
pub const DEFAULT_REFRESH_MARGIN_SECONDS: u64 = 300;
/// Default `requestTimeoutSeconds`.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 5;

/// A Login with Amazon (LWA) partner for mutual account linking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerConfig {
    /// The `partner_id` callers of `/api/partner/token` name.
    #[serde(default = "default_partner_id")]
    pub id: String,
    /// Our OAuth clients (the Alexa skills) through which users link to this
    /// partner: Alexa calls `/api/reciprocal/authorize` with one of them.
    pub linked_clients: Vec<String>,
    /// File holding the LWA client id (the skill's "Alexa Client Id").
    pub client_id_file: PathBuf,
    /// File holding the LWA client secret.
    pub client_secret_file: PathBuf,
    /// Which LWA token endpoint to use.
    #[serde(default)]
    pub region: LwaRegion,
    /// Overrides the region's token endpoint (for tests and proxies).
    #[serde(default)]
    pub token_url: Option<Url>,
    /// Scopes reported with partner tokens (what the skill was granted).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A stored Amazon access token with less than this left is refreshed
    /// before it is handed out (30 to 1800 seconds).
    #[serde(default = "default_refresh_margin")]
    pub refresh_margin_seconds: u64,
    /// Timeout of one request to LWA (1 to 30 seconds).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// PEM file with the CA certificate(s) trusted for the token endpoint's
    /// certificate, instead of the public roots: for an egress proxy that
    /// re-signs TLS, or a `tokenUrl` with a private CA. Absent: the public
    /// (webpki) roots, which Amazon's endpoints chain to.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl PartnerConfig {
    /// The LWA token endpoint this partner uses.
    pub fn effective_token_url(&self) -> Url {
        self.token_url
            .clone()
            .unwrap_or_else(|| self.region.token_url())
    }
}

/// Login with Amazon region, selecting its token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LwaRegion {
    /// North America: `https://api.amazon.com/auth/o2/token`.
    #[default]
    #[serde(rename = "NA")]
    Na,
    /// Europe: `https://api.amazon.co.uk/auth/o2/token`.
    #[serde(rename = "EU")]
    Eu,
    /// Far East: `https://api.amazon.co.jp/auth/o2/token`.
    #[serde(rename = "FE")]
    Fe,
}

impl LwaRegion {
    /// The region's LWA token endpoint.
    pub fn token_url(self) -> Url {
        let url = match self {
            LwaRegion::Na => "https://api.amazon.com/auth/o2/token",
            LwaRegion::Eu => "https://api.amazon.co.uk/auth/o2/token",
            LwaRegion::Fe => "https://api.amazon.co.jp/auth/o2/token",
        };
        Url::parse(url).expect("static URL parses")
    }
}

fn default_partner_id() -> String {
    DEFAULT_PARTNER_ID.to_owned()
}
fn default_refresh_margin() -> u64 {
    DEFAULT_REFRESH_MARGIN_SECONDS
}
fn default_request_timeout() -> u64 {
    DEFAULT_REQUEST_TIMEOUT_SECONDS
}

/// Checks the partners, the keys they need, and the clients they name.
pub(crate) fn validate(
    partners: &[PartnerConfig],
    encryption_key_files: &[PathBuf],
    clients: &[ClientConfig],
    errors: &mut Errors,
) {
    if !partners.is_empty() && encryption_key_files.is_empty() {
        errors.push(
            "encryptionKeyFiles",
            "at least one key file is required to encrypt stored Amazon tokens",
        );
    }
    let mut ids = HashSet::new();
    let mut linked = HashSet::new();
    for (i, p) in partners.iter().enumerate() {
        let path = format!("partners[{i}]");
        if !is_simple_id(&p.id) {
            errors.push(
                format!("{path}.id"),
                "must be letters, digits, '-', '_' or '.'",
            );
        }
        if !ids.insert(p.id.as_str()) {
            errors.push(
                format!("{path}.id"),
                format!("duplicate partner id {:?}", p.id),
            );
        }
        if p.linked_clients.is_empty() {
            errors.push(format!("{path}.linkedClients"), "name at least one client");
        }
        for (j, c) in p.linked_clients.iter().enumerate() {
            match clients.iter().find(|k| &k.client_id == c) {
                None => errors.push(
                    format!("{path}.linkedClients[{j}]"),
                    format!("no client {c:?} is configured"),
                ),
                // Reciprocal codes come from Alexa, a confidential client;
                // an app's user token must not be able to deliver them.
                Some(k) if k.public => errors.push(
                    format!("{path}.linkedClients[{j}]"),
                    format!("client {c:?} is public; Alexa's client is confidential"),
                ),
                Some(_) => {}
            }
            if !linked.insert(c.as_str()) {
                errors.push(
                    format!("{path}.linkedClients[{j}]"),
                    format!("client {c:?} is already linked to another partner"),
                );
            }
        }
        if let Some(url) = &p.token_url
            && url.scheme() != "https"
            && !url_is_loopback(url)
        {
            errors.push(
                format!("{path}.tokenUrl"),
                "must be https:// (http:// only for loopback hosts)",
            );
        }
        if !(30..=1800).contains(&p.refresh_margin_seconds) {
            errors.push(
                format!("{path}.refreshMarginSeconds"),
                format!(
                    "must be between 30 and 1800, got {}",
                    p.refresh_margin_seconds
                ),
            );
        }
        if !(1..=30).contains(&p.request_timeout_seconds) {
            errors.push(
                format!("{path}.requestTimeoutSeconds"),
                format!(
                    "must be between 1 and 30, got {}",
                    p.request_timeout_seconds
                ),
            );
        }
    }
    for (i, c) in clients.iter().enumerate() {
        if c.partner_token_access && partners.is_empty() {
            errors.push(
                format!("clients[{i}].partnerTokenAccess"),
                "needs at least one entry in partners",
            );
        }
        if !c.partner_token_partners.is_empty() && !c.partner_token_access {
            errors.push(
                format!("clients[{i}].partnerTokenPartners"),
                "needs partnerTokenAccess: true",
            );
        }
        for (j, id) in c.partner_token_partners.iter().enumerate() {
            if !partners.iter().any(|p| &p.id == id) {
                errors.push(
                    format!("clients[{i}].partnerTokenPartners[{j}]"),
                    format!("names no partner: {id:?} is not a partners[].id"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};

    fn partner() -> PartnerConfig {
        PartnerConfig {
            id: DEFAULT_PARTNER_ID.into(),
            linked_clients: vec!["alexa".into()],
            client_id_file: "/lwa/id".into(),
            client_secret_file: "/lwa/secret".into(),
            region: LwaRegion::Eu,
            token_url: None,
            scopes: vec![],
            refresh_margin_seconds: DEFAULT_REFRESH_MARGIN_SECONDS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            ca_file: None,
        }
    }

    #[test]
    fn a_partner_needs_keys_known_clients_and_sane_limits() {
        let mut c = minimal();
        c.partners.push(partner());
        c.encryption_key_files.push("/keys/1".into());
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(
            c.partners[0].effective_token_url().as_str(),
            "https://api.amazon.co.uk/auth/o2/token"
        );

        c.encryption_key_files.clear();
        c.partners[0].linked_clients = vec!["alexa".into(), "nobody".into()];
        c.partners[0].token_url = Some(Url::parse("http://lwa.example.com").expect("url"));
        c.partners[0].refresh_margin_seconds = 5;
        c.partners.push(partner());
        c.partners[1].id = "bad id".into();
        assert_eq!(
            invalid_fields(&c),
            vec![
                "encryptionKeyFiles",
                "partners[0].linkedClients[1]",
                "partners[0].tokenUrl",
                "partners[0].refreshMarginSeconds",
                "partners[1].id",
                "partners[1].linkedClients[0]",
            ]
        );
    }

    #[test]
    fn partner_token_access_needs_a_partner() {
        let mut c = minimal();
        c.clients[0].partner_token_access = true;
        assert_eq!(invalid_fields(&c), vec!["clients[0].partnerTokenAccess"]);
    }

    #[test]
    fn partner_token_access_may_be_limited_to_configured_partners() {
        let mut c = minimal();
        c.partners.push(partner());
        c.encryption_key_files.push("/keys/1".into());
        c.clients[0].partner_token_partners = vec![DEFAULT_PARTNER_ID.into(), "nobody".into()];
        assert_eq!(
            invalid_fields(&c),
            vec![
                "clients[0].partnerTokenPartners",
                "clients[0].partnerTokenPartners[1]",
            ]
        );
        c.clients[0].partner_token_access = true;
        c.clients[0].partner_token_partners.pop();
        assert_eq!(c.validate(), Ok(()));
        let yaml = c.to_yaml();
        assert!(yaml.contains("partnerTokenPartners:"), "{yaml}");
        c.clients[0].partner_token_partners.clear();
        assert!(
            !c.to_yaml().contains("partnerTokenPartners"),
            "absent when empty, so existing rendered configs do not change"
        );
    }
}
