//! The Service in front of the server pods.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::ADMIN_PORT;
use crate::crd::AlexaSkillLink;
use crate::labels::{Names, selector_labels};

/// Name of the public port (`http` when TLS ends at the Ingress).
pub fn public_port_name(asl: &AlexaSkillLink) -> &'static str {
    if asl.spec.tls.ingress.is_some() {
        "http"
    } else {
        "https"
    }
}

/// The Service port of the public listener.
pub fn public_service_port(asl: &AlexaSkillLink) -> i32 {
    asl.spec
        .service
        .port
        .unwrap_or(if asl.spec.tls.ingress.is_some() {
            80
        } else {
            443
        })
}

/// The Service `<name>`.
pub fn build(asl: &AlexaSkillLink, names: &Names) -> Service {
    let mut metadata = super::meta(asl, &names.main);
    if !asl.spec.service.annotations.is_empty() {
        metadata.annotations = Some(asl.spec.service.annotations.clone());
    }
    let name = public_port_name(asl);
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(
                asl.spec
                    .service
                    .type_
                    .clone()
                    .unwrap_or_else(|| "ClusterIP".into()),
            ),
            selector: Some(selector_labels(&names.main)),
            ports: Some(vec![
                ServicePort {
                    name: Some(name.to_owned()),
                    port: public_service_port(asl),
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
