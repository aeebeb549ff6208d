//! The `spec.alexaSkill` and `status.alexaSkill` types: which skill the
//! operator configures through SMAPI, with what, and what it last saw.
//!
//! Their own file (not `crd.rs`) because they belong to this room; `crd.rs`
//! names them in one field each.

/// The skill stage SMAPI configures: the server's own type, whose wire
/// names SMAPI uses too.
pub use alexa_link_config::SkillStage;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The skill whose account linking the operator configures in Alexa
/// through the Skill Management API (SMAPI).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlexaSkillSpec {
    /// The skill id, `amzn1.ask.skill.<uuid>` (the developer console's
    /// "Skill ID").
    #[schemars(
        length(min = 1, max = 255),
        regex(pattern = r"^amzn1\.ask\.skill\.[A-Za-z0-9._-]+$")
    )]
    pub skill_id: String,
    /// The skill stage: `development` (the default) or `live`. Changes to
    /// a live skill's account linking go through certification: set `live`
    /// only when that is what you mean.
    #[serde(default)]
    pub stage: SkillStage,
    /// A Secret with the SMAPI credentials: keys `client-id`,
    /// `client-secret` (an LWA security profile) and `refresh-token` (from
    /// `ask util generate-lwa-tokens` with the skill-management scopes).
    /// Read by the operator only; never mounted into the server's pods.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret_name: String,
    /// The client of `spec.clients` that Alexa uses (its id and secret are
    /// published). Defaults to the only confidential client that uses
    /// `authorization_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Scopes Alexa asks for (at most 15). Defaults to the client's scopes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 15))]
    pub scopes: Vec<String>,
    /// Domains the login page loads content from besides `host` (at most 15).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 15))]
    pub domains: Vec<String>,
    /// How Alexa authenticates at the token endpoint: `HTTP_BASIC` (the
    /// default) or `REQUEST_BODY_CREDENTIALS`. The server accepts both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_scheme: Option<AccessTokenScheme>,
    /// Lifetime Alexa assumes for an access token whose answer has no
    /// `expires_in`. Defaults to the client's access-token lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 31536000))]
    pub default_token_expiration_in_seconds: Option<u32>,
    /// Let users enable the skill without linking first.
    #[serde(default)]
    pub skip_on_enablement: bool,
    /// App-to-App linking: the skill's own app URLs (universal link,
    /// app link) that start linking from the Alexa app, per platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 2))]
    pub authorization_urls_by_platform: Vec<PlatformAuthorizationUrl>,
    /// `Enforce` (the default): configure the skill and correct edits made
    /// in the developer console. `Observe`: only read the skill's account
    /// linking and report how it differs; never write it.
    #[serde(default)]
    pub mode: SkillMode,
}

/// The token endpoint's client authentication, as SMAPI names it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessTokenScheme {
    /// HTTP Basic authentication.
    #[default]
    HttpBasic,
    /// `client_id` and `client_secret` in the form body.
    RequestBodyCredentials,
}

/// One App-to-App authorization URL.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformAuthorizationUrl {
    /// `iOS` or `Android`.
    pub platform_type: PlatformType,
    /// The https URL (universal link or app link) of the skill's app.
    #[schemars(length(min = 1, max = 2048))]
    pub platform_authorization_url: String,
}

/// A mobile platform.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
pub enum PlatformType {
    /// Apple iOS.
    #[serde(rename = "iOS")]
    Ios,
    /// Android.
    Android,
}

/// Whether the operator writes the skill's account linking.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SkillMode {
    /// Configure, and correct console edits.
    #[default]
    Enforce,
    /// Read and report only.
    Observe,
}

/// What the operator last did with the skill's account linking.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlexaSkillStatus {
    /// The skill these fields describe.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub skill_id: String,
    /// Its stage.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stage: String,
    /// Revision of the last account-linking request SMAPI accepted: a hash
    /// of everything sent, the client secret included, so that rotating the
    /// secret re-sends it. Not reversible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_hash: Option<String>,
    /// When SMAPI accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Revision of a request SMAPI rejected: not sent again until the spec
    /// or a Secret changes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_hash: Option<String>,
    /// Alexa's redirect URLs for this skill, as SMAPI reported them; added
    /// to the published client's allowed redirect URIs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirect_urls: Vec<String>,
    /// The vendor id in those URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_id: Option<String>,
    /// Fields in which the skill differs from the spec (console edits),
    /// when last read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drifted_fields: Vec<String>,
}
