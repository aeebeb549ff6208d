//! SMAPI: the operator configures the skill's account linking in Alexa
//! itself, so nobody pastes console fields.
//!
//! Amazon's Skill Management API sets exactly the fields that drift
//! between the developer console and the server (URLs, the token
//! endpoint's authentication scheme, the client secret, scopes). The room
//! is split by concern: [`spec`] (the CRD's `alexaSkill` types), [`skill`]
//! (the spec decided into a [`skill::Skill`], pure, run by validate),
//! [`request`] (the account-linking request and its revision hash, pure),
//! [`drift`] (what a read-back says about console edits, pure), [`client`]
//! (LWA token refresh and the two SMAPI calls, the only I/O), and
//! [`sync`] (one reconcile's decision: send, check, correct or report).
//!
//! What it will never do: touch any other part of the skill (manifest,
//! interaction model, certification), delete account linking, or put the
//! client secret or an LWA token into status, events or logs.

pub mod client;
pub mod drift;
pub mod request;
pub mod skill;
pub mod spec;
pub mod sync;

/// The condition type this room writes. Never part of Ready: a skill
/// Alexa cannot be configured for does not stop the server from serving.
pub const SKILL_CONFIGURED: &str = "SkillConfigured";

/// Reasons of the SkillConfigured condition (one CamelCase word each).
/// A request SMAPI rejects with a violation code carries that code,
/// CamelCased (`INVALID_URL` -> `InvalidUrl`), instead of [`REJECTED`].
pub mod reasons {
    /// The skill's account linking matches the spec (sent, or read back equal).
    pub const CONFIGURED: &str = "Configured";
    /// `mode: Observe` and the skill matches the spec.
    pub const IN_SYNC: &str = "InSync";
    /// `mode: Observe` and the skill differs from the spec (console edits).
    pub const DRIFTED: &str = "Drifted";
    /// The credentials Secret is missing, lacks a key, or holds no text.
    pub const CREDENTIALS_MISSING: &str = "CredentialsMissing";
    /// Login with Amazon refused the SMAPI credentials (`invalid_grant`,
    /// `invalid_client`): generate a new refresh token.
    pub const CREDENTIALS_REJECTED: &str = "CredentialsRejected";
    /// The published client's secret cannot be read as text.
    pub const CLIENT_SECRET_INVALID: &str = "ClientSecretInvalid";
    /// SMAPI refused the token (401/403): a missing skill-management
    /// scope, or an account that is not the skill's vendor.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// SMAPI does not know the skill or stage (404).
    pub const SKILL_NOT_FOUND: &str = "SkillNotFound";
    /// SMAPI rejected the request (400) without a violation code.
    pub const REJECTED: &str = "Rejected";
    /// The skill cannot be changed now (409, e.g. in certification); retried.
    pub const CONFLICT: &str = "Conflict";
    /// SMAPI asked us to slow down (429); retried after its Retry-After.
    pub const THROTTLED: &str = "Throttled";
    /// SMAPI or Login with Amazon failed or could not be reached; retried
    /// with backoff.
    pub const UNAVAILABLE: &str = "SmapiUnavailable";
}
