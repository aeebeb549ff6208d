//! The pods' ServiceAccount, carrying the spec's annotations (e.g. an IAM
//! role for service accounts).

use k8s_openapi::api::core::v1::ServiceAccount;

use crate::crd::AlexaSkillLink;
use crate::labels::Names;

/// The ServiceAccount `<name>`.
pub fn build(asl: &AlexaSkillLink, names: &Names) -> ServiceAccount {
    let mut metadata = super::meta(asl, &names.main);
    let annotations = &asl.spec.service_account.annotations;
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
