//! The audit log: one structured line per security event.
//!
//! Events go to their own tracing target, [`TARGET`], which the logging
//! setup ([`crate::telemetry`]) always writes as one JSON object per line,
//! whatever the format of the other logs, so that a log shipper can route
//! them by `target` and parse them without guessing. Each event is also
//! counted in `alexa_link_audit_events_total{event,outcome}`.
//!
//! # Schema
//!
//! | field | when | what |
//! |---|---|---|
//! | `timestamp` | always | RFC 3339, UTC |
//! | `level` | always | `INFO` (`WARN` for a detected attack) |
//! | `target` | always | `alexa_link::audit` |
//! | `event` | always | one of [`AuditEvent::name`] |
//! | `outcome` | always | `success` or `failure` |
//! | `reason` | revocations, deletions, failures | why, as one snake_case word |
//! | `client_id` | when a client is involved | our OAuth client |
//! | `user_id` | when a user is involved | our user id |
//! | `partner_id` | Amazon-token events | `partners[].id` |
//! | `grant_id` | when a grant is involved | hex id of the token family (not a secret: it grants nothing) |
//! | `via` | `amazon_tokens_stored` | `reciprocal`, `accept_grant` or `app_to_app` |
//! | `remote_addr` | when known | the caller's IP address |
//!
//! A grant ended by code replay or refresh reuse takes its Amazon tokens
//! with it in the same store operation; its `grant_revoked` entry stands
//! for their deletion too. Every other ending writes `amazon_tokens_deleted`.
//!
//! Never in an entry: a token, code, secret, password or Amazon token.
//! Every field holding a value is typed here so that none can be added
//! by accident at a call site.

use std::net::IpAddr;

use crate::metrics::Metrics;
use crate::partner::custody::Via;
use crate::store::GrantId;

/// The tracing target of audit events.
pub const TARGET: &str = "alexa_link::audit";

/// Why a grant was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeReason {
    /// The client revoked a token at `/oauth/revoke` (RFC 7009).
    ClientRevocation,
    /// An authorization code was presented again (RFC 6749 4.1.2).
    CodeReplay,
    /// A rotated refresh token was used after its grace period.
    RefreshReuse,
    /// The user unlinked on the linked-apps page.
    UserUnlink,
    /// Alexa reported that the user disabled the skill.
    SkillDisabled,
    /// An administrator revoked every grant of a user.
    AdminRevokeUser,
    /// The user is gone from the identity backend (or the link is older
    /// than it allows): found at a refresh or a partner-token read.
    UserDeprovisioned,
}

impl RevokeReason {
    /// The `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::ClientRevocation => "client_revocation",
            RevokeReason::CodeReplay => "code_replay",
            RevokeReason::RefreshReuse => "refresh_reuse",
            RevokeReason::UserUnlink => "user_unlink",
            RevokeReason::SkillDisabled => "skill_disabled",
            RevokeReason::AdminRevokeUser => "admin_revoke_user",
            RevokeReason::UserDeprovisioned => "user_deprovisioned",
        }
    }
}

/// Why stored Amazon tokens were deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// The grant they belong to ended (for the [`RevokeReason`] given).
    GrantRevoked(RevokeReason),
    /// LWA no longer accepts their refresh token.
    LwaRejectedRefresh,
}

impl DeleteReason {
    /// The `reason` field.
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::GrantRevoked(r) => r.as_str(),
            DeleteReason::LwaRejectedRefresh => "lwa_rejected_refresh",
        }
    }
}

/// A security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// A user consented and an authorization code was issued to a client.
    LinkCreated,
    /// An authorization code was redeemed for a new grant.
    CodeRedeemed,
    /// A rotated refresh token was presented after its grace period.
    RefreshReuseDetected,
    /// A grant (and every token of it) was revoked.
    GrantRevoked {
        /// Why.
        reason: RevokeReason,
    },
    /// A user unlinked a client on the linked-apps page.
    UserUnlinked,
    /// A user's Amazon tokens were stored (a code was exchanged at LWA).
    AmazonTokensStored {
        /// How the code arrived.
        via: Via,
    },
    /// A user's Amazon access token was refreshed at LWA.
    AmazonTokensRefreshed,
    /// A user's Amazon tokens were deleted.
    AmazonTokensDeleted {
        /// Why.
        reason: DeleteReason,
    },
    /// A client read a user's Amazon access token (`/api/partner/token`).
    PartnerTokenRead,
    /// Alexa's user id of a user was recorded (a skill event).
    AlexaUserMapped,
}

impl AuditEvent {
    /// The `event` field.
    pub fn name(self) -> &'static str {
        match self {
            AuditEvent::LinkCreated => "link_created",
            AuditEvent::CodeRedeemed => "code_redeemed",
            AuditEvent::RefreshReuseDetected => "refresh_reuse_detected",
            AuditEvent::GrantRevoked { .. } => "grant_revoked",
            AuditEvent::UserUnlinked => "user_unlinked",
            AuditEvent::AmazonTokensStored { .. } => "amazon_tokens_stored",
            AuditEvent::AmazonTokensRefreshed => "amazon_tokens_refreshed",
            AuditEvent::AmazonTokensDeleted { .. } => "amazon_tokens_deleted",
            AuditEvent::PartnerTokenRead => "partner_token_read",
            AuditEvent::AlexaUserMapped => "alexa_user_mapped",
        }
    }

    fn reason(self) -> Option<&'static str> {
        match self {
            AuditEvent::GrantRevoked { reason } => Some(reason.as_str()),
            AuditEvent::AmazonTokensDeleted { reason } => Some(reason.as_str()),
            _ => None,
        }
    }

    fn via(self) -> Option<&'static str> {
        match self {
            AuditEvent::AmazonTokensStored { via } => Some(via.as_str()),
            _ => None,
        }
    }
}

/// One audit entry, built at the place the event happens and then
/// [`emitted`](Audit::emit).
#[derive(Debug, Clone)]
#[must_use = "an audit entry does nothing until it is emitted"]
pub struct Audit<'a> {
    event: AuditEvent,
    failure: Option<&'static str>,
    client_id: Option<&'a str>,
    user_id: Option<&'a str>,
    partner_id: Option<&'a str>,
    grant_id: Option<GrantId>,
    remote_addr: Option<IpAddr>,
}

impl<'a> Audit<'a> {
    /// A successful `event`, with no details yet.
    pub fn new(event: AuditEvent) -> Audit<'a> {
        Audit {
            event,
            failure: None,
            client_id: None,
            user_id: None,
            partner_id: None,
            grant_id: None,
            remote_addr: None,
        }
    }

    /// Marks the event failed, for `reason` (a snake_case word, never a value).
    pub fn failed(mut self, reason: &'static str) -> Audit<'a> {
        self.failure = Some(reason);
        self
    }

    /// The client involved.
    pub fn client(mut self, client_id: &'a str) -> Audit<'a> {
        self.client_id = Some(client_id);
        self
    }

    /// The user involved.
    pub fn user(mut self, user_id: &'a str) -> Audit<'a> {
        self.user_id = Some(user_id);
        self
    }

    /// The partner involved.
    pub fn partner(mut self, partner_id: &'a str) -> Audit<'a> {
        self.partner_id = Some(partner_id);
        self
    }

    /// The grant involved.
    pub fn grant(mut self, grant_id: GrantId) -> Audit<'a> {
        self.grant_id = Some(grant_id);
        self
    }

    /// The caller's address, when known.
    pub fn remote(mut self, addr: Option<IpAddr>) -> Audit<'a> {
        self.remote_addr = addr;
        self
    }

    /// Writes the entry and counts it.
    pub fn emit(self, metrics: &Metrics) {
        let outcome = if self.failure.is_some() {
            "failure"
        } else {
            "success"
        };
        let event = self.event.name();
        metrics.audit(event, outcome);
        let reason = self.failure.or(self.event.reason());
        let grant_id = self.grant_id.map(|g| g.to_hex());
        let remote_addr = self.remote_addr.map(|a| a.to_string());
        macro_rules! audit_line {
            ($level:expr) => {
                tracing::event!(
                    target: TARGET,
                    $level,
                    event,
                    outcome,
                    reason,
                    client_id = self.client_id,
                    user_id = self.user_id,
                    partner_id = self.partner_id,
                    grant_id = grant_id.as_deref(),
                    via = self.event.via(),
                    remote_addr = remote_addr.as_deref(),
                )
            };
        }
        // An attack in progress is worth a warning in any log view.
        if self.event == AuditEvent::RefreshReuseDetected
            || matches!(
                self.event,
                AuditEvent::GrantRevoked {
                    reason: RevokeReason::CodeReplay | RevokeReason::RefreshReuse
                }
            )
        {
            audit_line!(tracing::Level::WARN);
        } else {
            audit_line!(tracing::Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_distinct_name() {
        let events = [
            AuditEvent::LinkCreated,
            AuditEvent::CodeRedeemed,
            AuditEvent::RefreshReuseDetected,
            AuditEvent::GrantRevoked {
                reason: RevokeReason::AdminRevokeUser,
            },
            AuditEvent::UserUnlinked,
            AuditEvent::AmazonTokensStored {
                via: Via::AcceptGrant,
            },
            AuditEvent::AmazonTokensRefreshed,
            AuditEvent::AmazonTokensDeleted {
                reason: DeleteReason::LwaRejectedRefresh,
            },
            AuditEvent::PartnerTokenRead,
            AuditEvent::AlexaUserMapped,
        ];
        let mut names: Vec<_> = events.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), events.len());
    }

    #[test]
    fn revocation_and_deletion_reasons_name_the_cause() {
        assert_eq!(
            AuditEvent::GrantRevoked {
                reason: RevokeReason::AdminRevokeUser
            }
            .reason(),
            Some("admin_revoke_user")
        );
        assert_eq!(
            AuditEvent::AmazonTokensDeleted {
                reason: DeleteReason::GrantRevoked(RevokeReason::SkillDisabled)
            }
            .reason(),
            Some("skill_disabled")
        );
    }
}
