//! The pods' ServiceAccount, carrying the spec's annotations (e.g. an IAM
//! role for service accounts).

use k8s_openapi::api::core::v1::ServiceAccount;

use crate::validate::ValidatedLink;

/// The ServiceAccount `<name>`.
pub fn build(link: &ValidatedLink) -> ServiceAccount {
    let mut metadata = super::meta(&link.resource, &link.names.main);
    let annotations = &link.resource.spec.service_account.annotations;
    if !annotations.is_empty() {
        metadata.annotations = Some(annotations.clone());
    }
    ServiceAccount {
        metadata,
        // The server never calls the Kubernetes API.
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}
