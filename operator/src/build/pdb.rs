//! The PodDisruptionBudget (policy/v1) keeping one pod up during node
//! drains; built only when there is more than one replica.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Capabilities;
use crate::labels::selector_labels;
use crate::validate::ValidatedLink;

/// The PodDisruptionBudget `<name>`.
pub fn build(link: &ValidatedLink) -> PodDisruptionBudget {
    let names = &link.names;
    PodDisruptionBudget {
        metadata: super::meta(&link.resource, &names.main),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&names.main)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// The PDB when `replicas` > 1, or a note for the status when the cluster
/// cannot take one.
pub fn wanted(
    link: &ValidatedLink,
    caps: Capabilities,
) -> (Option<PodDisruptionBudget>, Option<String>) {
    if link.replicas <= 1 {
        (None, None)
    } else if caps.pdb_v1 {
        (Some(build(link)), None)
    } else {
        (
            None,
            Some("PodDisruptionBudget skipped: this cluster does not serve policy/v1.".to_owned()),
        )
    }
}
