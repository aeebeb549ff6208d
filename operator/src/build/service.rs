//! The Service in front of the server pods.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ADMIN_PORT;
use crate::labels::selector_labels;
use crate::validate::{Tls, ValidatedLink};

/// Name of the public port (`http` when TLS ends at the Ingress).
pub fn public_port_name(tls: &Tls) -> &'static str {
    match tls {
        Tls::Ingress { .. } => "http",
        Tls::Secret { .. } | Tls::CertManager { .. } => "https",
    }
}

/// The Service port of the public listener.
pub fn public_service_port(link: &ValidatedLink) -> i32 {
    link.resource.spec.service.port.unwrap_or(match link.tls {
        Tls::Ingress { .. } => 80,
        Tls::Secret { .. } | Tls::CertManager { .. } => 443,
    })
}

/// The Service `<name>`.
pub fn build(link: &ValidatedLink) -> Service {
    let (spec, names) = (&link.resource.spec, &link.names);
    let mut metadata = super::meta(&link.resource, &names.main);
    if !spec.service.annotations.is_empty() {
        metadata.annotations = Some(spec.service.annotations.clone());
    }
    let name = public_port_name(&link.tls);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(
                spec.service
                    .type_
                    .clone()
                    .unwrap_or_else(|| "ClusterIP".into()),
            ),
            selector: Some(selector_labels(&names.main)),
            ports: Some(vec![
                ServicePort {
                    name: Some(name.to_owned()),
                    port: public_service_port(link),
                    target_port: Some(IntOrString::String(name.to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                },
                ServicePort {
                    name: Some("admin".to_owned()),
                    port: ADMIN_PORT,
                    target_port: Some(IntOrString::String("admin".to_owned())),
                    protocol: Some("TCP".to_owned()),
                    ..ServicePort::default()
                },
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
