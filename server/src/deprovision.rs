//! Ending everything a user has, at once: every grant (with its access and
//! refresh tokens) and the Amazon tokens kept for them. For a user who left
//! the organisation; the identity backend check ([`crate::identity::presence`])
//! does the same lazily, at the next refresh.
//!
//! Reached from the admin port (`POST /revoke-user`) and the command line
//! (`alexa-link-server revoke-user`).

use serde::Serialize;

use crate::audit::{Audit, AuditEvent, DeleteReason, RevokeReason};
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, UnixTime};

/// What revoking a user ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevokedUser {
    /// The user.
    pub user_id: String,
    /// Active grants revoked (each with its tokens and Amazon tokens).
    pub grants_revoked: usize,
    /// Amazon-token links deleted that no revoked grant had already ended.
    pub partner_links_deleted: usize,
}

/// Revokes every active grant of `user_id` and deletes their Amazon tokens
/// for each of `partner_ids`. Idempotent: a second run finds nothing.
pub async fn revoke_user(
    store: &dyn Store,
    metrics: &Metrics,
    partner_ids: &[String],
    user_id: &str,
    now: UnixTime,
) -> Result<RevokedUser, StoreError> {
    let mut grants_revoked = 0;
    for (grant_id, grant) in store.list_user_grants(user_id, now).await? {
        if store.revoke_grant(&grant_id, now).await? {
            grants_revoked += 1;
            Audit::new(AuditEvent::GrantRevoked {
                reason: RevokeReason::AdminRevokeUser,
            })
            .client(&grant.client_id)
            .user(user_id)
            .grant(grant_id)
            .emit(metrics);
        }
    }
    // A link whose grant already ended, or that the user listing (an
    // eventually consistent index on DynamoDB) missed, goes too.
    let mut partner_links_deleted = 0;
    for partner_id in partner_ids {
        if store.delete_partner_link(user_id, partner_id, None).await? {
            partner_links_deleted += 1;
            Audit::new(AuditEvent::AmazonTokensDeleted {
                reason: DeleteReason::GrantRevoked(RevokeReason::AdminRevokeUser),
            })
            .user(user_id)
            .partner(partner_id)
            .emit(metrics);
        }
    }
    tracing::info!(
        user_id,
        grants_revoked,
        partner_links_deleted,
        "every grant of the user revoked"
    );
    Ok(RevokedUser {
        user_id: user_id.to_owned(),
        grants_revoked,
        partner_links_deleted,
    })
}
