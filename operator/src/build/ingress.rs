//! The Ingress for `host`, built when `ingress` or `tls.ingress` is set.

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::service::public_port_name;
use crate::validate::{Tls, ValidatedLink};

/// The Ingress `<name>`, or `None` when not wanted.
pub fn build(link: &ValidatedLink) -> Option<Ingress> {
    let (spec, names) = (&link.resource.spec, &link.names);
    let tls_secret = match &link.tls {
        Tls::Ingress { secret_name } => Some(secret_name.clone()),
        _ => None,
    };
    if spec.ingress.is_none() && tls_secret.is_none() {
        return None;
    }
    let settings = spec.ingress.clone().unwrap_or_default();
    let mut metadata = super::meta(&link.resource, &names.main);
    if !settings.annotations.is_empty() {
        metadata.annotations = Some(settings.annotations.clone());
    }
    let tls = tls_secret.map(|secret_name| {
        vec![IngressTLS {
            hosts: Some(vec![spec.host.clone()]),
            secret_name,
        }]
    });
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: settings.class_name.clone(),
            tls,
            rules: Some(vec![IngressRule {
                host: Some(spec.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".to_owned()),
                        path_type: "Prefix".to_owned(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: names.main.clone(),
                                port: Some(ServiceBackendPort {
                                    name: Some(public_port_name(&link.tls).to_owned()),
                                    number: None,
                                }),
                            }),
                            resource: None,
                        },
                    }],
                }),
            }]),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}
