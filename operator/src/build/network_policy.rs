//! The NetworkPolicy admitting only the server's two ports.

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{ADMIN_PORT, PUBLIC_PORT};
use crate::labels::selector_labels;
use crate::validate::ValidatedLink;

/// The NetworkPolicy `<name>`, when `networkPolicy.enabled`.
pub fn build(link: &ValidatedLink) -> Option<NetworkPolicy> {
    let names = &link.names;
    if !link
        .resource
        .spec
        .network_policy
        .as_ref()
        .is_some_and(|n| n.enabled)
    {
        return None;
    }
    let port = |p: i32| NetworkPolicyPort {
        port: Some(IntOrString::Int(p)),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    };
    Some(NetworkPolicy {
        metadata: super::meta(&link.resource, &names.main),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&names.main)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(vec![
                // Alexa and browsers come from anywhere.
                NetworkPolicyIngressRule {
                    from: None,
                    ports: Some(vec![port(PUBLIC_PORT)]),
                },
                // Probes come from the kubelet (not subject to policy);
                // metrics scrapers from inside the namespace.
                NetworkPolicyIngressRule {
                    from: Some(vec![NetworkPolicyPeer {
                        pod_selector: Some(LabelSelector::default()),
                        ..NetworkPolicyPeer::default()
                    }]),
                    ports: Some(vec![port(ADMIN_PORT)]),
                },
            ]),
            ..NetworkPolicySpec::default()
        }),
    })
}
