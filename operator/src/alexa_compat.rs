//! Alexa compatibility: the `doctor` checks that make sense from inside the
//! cluster without calling out, reported as the `AlexaCompatible` condition.
//!
//! The operator can read the certificate a link serves (a `tls.secretName`
//! Secret) and the clients' redirect URIs, which is enough to see the most
//! common silent linking failures before a user meets them: a chain Alexa's
//! client cannot complete or does not trust, a certificate for another name
//! or out of date, a region whose redirect URL is missing. `Ready` never
//! depends on this condition: it says whether Alexa will like the service,
//! not whether the service runs, and a test or staging link on a private CA
//! is legitimately Ready and not Alexa-compatible. Checks that need the
//! internet (DNS, the public path, a whole link) stay with `doctor`.

use alexa_link_certcheck::{self as certcheck, ChainVerdict, ExpiryVerdict, NameVerdict};
use alexa_link_config::alexa_redirect_uris;
use rustls::pki_types::CertificateDer;

use crate::conditions::reasons;
use crate::crd::AlexaSkillLinkSpec;
use crate::resolve::Resolved;

/// The condition's status, reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compat {
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    /// One CamelCase word from [`reasons`].
    pub reason: &'static str,
    /// A sentence with the fix.
    pub message: String,
}

impl Compat {
    fn no(reason: &'static str, message: String) -> Compat {
        Compat {
            status: "False",
            reason,
            message,
        }
    }
}

/// The regions of [`alexa_redirect_uris`], in its order.
const REGIONS: [&str; 3] = [
    "NA (pitangui.amazon.com)",
    "EU (layla.amazon.com)",
    "FE (alexa.amazon.co.jp)",
];

/// Judges `spec` as Alexa will meet it, as of `now` (Unix seconds). The
/// first failing check names the reason. `extra_roots` is empty in the
/// operator (Alexa trusts public roots only); tests pass a test root.
pub fn assess(
    spec: &AlexaSkillLinkSpec,
    resolved: &Resolved,
    extra_roots: &[CertificateDer<'static>],
    now: i64,
) -> Compat {
    let certificate = certificate(spec, resolved, extra_roots, now);
    if certificate.status == "False" {
        return certificate;
    }
    if let Some(missing) = missing_regions(spec) {
        return Compat::no(reasons::REDIRECT_REGIONS_MISSING, missing);
    }
    certificate
}

/// The certificate checks; `True` (possibly expiring soon) or why not.
fn certificate(
    spec: &AlexaSkillLinkSpec,
    resolved: &Resolved,
    extra_roots: &[CertificateDer<'static>],
    now: i64,
) -> Compat {
    let host = &spec.host;
    let Some(secret) = &spec.tls.secret_name else {
        return Compat {
            status: "Unknown",
            reason: reasons::CERTIFICATE_NOT_VISIBLE,
            message: format!(
                "The certificate is issued outside this resource (cert-manager or the Ingress); check it with `alexa-link-server doctor --url https://{host}`."
            ),
        };
    };
    let pem = resolved
        .secrets
        .get(secret)
        .and_then(Option::as_ref)
        .and_then(|data| data.get("tls.crt"));
    let Some(pem) = pem else {
        // Validate reports a missing Secret or key; nothing to judge here.
        return Compat {
            status: "Unknown",
            reason: reasons::CERTIFICATE_NOT_VISIBLE,
            message: format!("Secret {secret:?} has no tls.crt to check."),
        };
    };
    let chain = certcheck::pem_chain(pem);
    let assessment = match certcheck::assess(&chain, host, extra_roots, now) {
        Ok(a) => a,
        Err(e) => {
            return Compat::no(
                reasons::CERTIFICATE_UNUSABLE,
                format!("tls.crt of Secret {secret:?} holds {e}."),
            );
        }
    };
    if let NameVerdict::Mismatch { names } = &assessment.name {
        return Compat::no(
            reasons::CERTIFICATE_NAME_MISMATCH,
            format!(
                "The certificate in Secret {secret:?} is for {} but Alexa calls {host}: reissue it with {host} in its dnsNames.",
                if names.is_empty() {
                    "no DNS name".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        );
    }
    match assessment.expiry {
        ExpiryVerdict::Expired { not_after } => {
            return Compat::no(
                reasons::CERTIFICATE_EXPIRED,
                format!(
                    "The certificate in Secret {secret:?} expired on {}: Alexa refuses to link until it is renewed.",
                    certcheck::date(not_after)
                ),
            );
        }
        ExpiryVerdict::NotYetValid { not_before } => {
            return Compat::no(
                reasons::CERTIFICATE_EXPIRED,
                format!(
                    "The certificate in Secret {secret:?} is valid only from {}.",
                    certcheck::date(not_before)
                ),
            );
        }
        ExpiryVerdict::Valid { .. } | ExpiryVerdict::ExpiringSoon { .. } => {}
    }
    match assessment.chain {
        ChainVerdict::Trusted { .. } => {}
        ChainVerdict::Incomplete { missing_issuer, .. } => {
            return Compat::no(
                reasons::CERTIFICATE_CHAIN_INCOMPLETE,
                format!(
                    "tls.crt of Secret {secret:?} lacks the intermediate issued as \"{missing_issuer}\": put the full chain in tls.crt (leaf first); Alexa does not fetch missing intermediates."
                ),
            );
        }
        ChainVerdict::UntrustedRoot { root } => {
            return Compat::no(
                reasons::CERTIFICATE_UNTRUSTED,
                format!(
                    "The certificate in Secret {secret:?} chains to \"{root}\", which is not a public root: Alexa will refuse to link. Use a public CA (for example Let's Encrypt with tls.certManager)."
                ),
            );
        }
        ChainVerdict::Invalid(e) => {
            return Compat::no(
                reasons::CERTIFICATE_UNTRUSTED,
                format!("The certificate chain in Secret {secret:?} does not verify: {e}."),
            );
        }
    }
    match assessment.expiry {
        ExpiryVerdict::ExpiringSoon { not_after } => Compat {
            status: "True",
            reason: reasons::CERTIFICATE_EXPIRING_SOON,
            message: format!(
                "The certificate for {host} expires on {}: renew it, links fail the day it expires.",
                certcheck::date(not_after)
            ),
        },
        _ => Compat {
            status: "True",
            reason: reasons::COMPATIBLE,
            message: format!(
                "Alexa's client can trust the certificate for {host}, and every Alexa client has all three regions' redirect URLs."
            ),
        },
    }
}

/// Clients that name some of a vendor's Alexa redirect URLs but not all
/// three: users in the other regions cannot link.
fn missing_regions(spec: &AlexaSkillLinkSpec) -> Option<String> {
    let mut problems = Vec::new();
    for client in &spec.clients {
        let vendors: Vec<&str> = client
            .redirect_uris
            .iter()
            .filter_map(|uri| alexa_vendor_of(uri))
            .collect();
        for vendor in vendors.iter().copied() {
            if client.alexa_vendor_id.as_deref() == Some(vendor) {
                continue;
            }
            let missing: Vec<&str> = alexa_redirect_uris(vendor)
                .iter()
                .zip(REGIONS)
                .filter(|(uri, _)| !client.redirect_uris.contains(uri))
                .map(|(_, region)| region)
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "client {} lacks the {} redirect URL of vendor {vendor}",
                    client.client_id,
                    missing.join(" and ")
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    (!problems.is_empty()).then(|| {
        format!(
            "{}: users there cannot link. Set alexaVendorId instead, which registers all three.",
            problems.join("; ")
        )
    })
}

/// The vendor id of one of Alexa's redirect URLs.
fn alexa_vendor_of(uri: &str) -> Option<&str> {
    [
        "https://pitangui.amazon.com",
        "https://layla.amazon.com",
        "https://alexa.amazon.co.jp",
    ]
    .iter()
    .find_map(|host| uri.strip_prefix(host))
    .and_then(|path| path.strip_prefix("/api/skill/link/"))
    .filter(|v| !v.is_empty() && !v.contains('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    use std::collections::BTreeMap;

    const DAY: i64 = 86_400;

    fn spec(yaml: &str) -> AlexaSkillLinkSpec {
        serde_yaml::from_str(yaml).expect("spec")
    }

    const BASE: &str = "host: link.example.com\ntls: {secretName: link-tls}\nidentity: {static: {usersSecretRef: {name: users, key: users.yaml}}}\nstorage: {embedded: {size: 1Gi}}\n";

    struct Ca {
        root: rcgen::Certificate,
        root_key: KeyPair,
    }

    fn ca() -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "private test root");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let root_key = KeyPair::generate().expect("key");
        let root = p.self_signed(&root_key).expect("root");
        Ca { root, root_key }
    }

    fn resolved_with(ca: &Ca, name: &str, now: i64, until_days: i64) -> Resolved {
        let mut p = CertificateParams::new(vec![name.to_owned()]).expect("params");
        p.not_before = time::OffsetDateTime::from_unix_timestamp(now - DAY).expect("t");
        p.not_after = time::OffsetDateTime::from_unix_timestamp(now + until_days * DAY).expect("t");
        let key = KeyPair::generate().expect("key");
        let leaf = p.signed_by(&key, &ca.root, &ca.root_key).expect("leaf");
        let mut data = BTreeMap::new();
        data.insert("tls.crt".to_owned(), leaf.pem().into_bytes());
        let mut resolved = Resolved::default();
        resolved.secrets.insert("link-tls".into(), Some(data));
        resolved
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn client(extra: &str) -> String {
        format!("clients:\n- clientId: alexa\n  clientSecretRef: {{name: s, key: k}}\n{extra}")
    }

    #[test]
    fn a_public_chain_for_the_host_with_all_regions_is_compatible() {
        let ca = ca();
        let now = now();
        let spec = spec(&format!("{BASE}{}", client("  alexaVendorId: M2ABC\n")));
        let roots = [ca.root.der().clone()];
        let c = assess(
            &spec,
            &resolved_with(&ca, "link.example.com", now, 90),
            &roots,
            now,
        );
        assert_eq!((c.status, c.reason), ("True", reasons::COMPATIBLE), "{c:?}");
        let c = assess(
            &spec,
            &resolved_with(&ca, "link.example.com", now, 5),
            &roots,
            now,
        );
        assert_eq!(
            (c.status, c.reason),
            ("True", reasons::CERTIFICATE_EXPIRING_SOON),
            "{c:?}"
        );
    }

    #[test]
    fn each_certificate_fault_is_its_own_reason() {
        let ca = ca();
        let now = now();
        let spec = spec(&format!("{BASE}{}", client("  alexaVendorId: M2ABC\n")));
        let roots = [ca.root.der().clone()];
        let c = assess(
            &spec,
            &resolved_with(&ca, "other.example.com", now, 90),
            &roots,
            now,
        );
        assert_eq!(
            (c.status, c.reason),
            ("False", reasons::CERTIFICATE_NAME_MISMATCH),
            "{c:?}"
        );
        assert!(c.message.contains("other.example.com"));
        let c = assess(
            &spec,
            &resolved_with(&ca, "link.example.com", now, -1),
            &roots,
            now,
        );
        assert_eq!(c.reason, reasons::CERTIFICATE_EXPIRED, "{c:?}");
        // Without the private root, as in the operator: Alexa would not trust it.
        let c = assess(
            &spec,
            &resolved_with(&ca, "link.example.com", now, 90),
            &[],
            now,
        );
        assert_eq!(
            (c.status, c.reason),
            ("False", reasons::CERTIFICATE_CHAIN_INCOMPLETE),
            "{c:?}"
        );
        let mut resolved = resolved_with(&ca, "link.example.com", now, 90);
        if let Some(Some(data)) = resolved.secrets.get_mut("link-tls") {
            let leaf = data.get("tls.crt").cloned().unwrap_or_default();
            data.insert(
                "tls.crt".into(),
                [leaf, ca.root.pem().into_bytes()].concat(),
            );
        }
        let c = assess(&spec, &resolved, &[], now);
        assert_eq!(
            (c.status, c.reason),
            ("False", reasons::CERTIFICATE_UNTRUSTED),
            "{c:?}"
        );
        assert!(c.message.contains("private test root"), "{c:?}");
    }

    #[test]
    fn a_vendor_with_a_missing_region_is_named() {
        let ca = ca();
        let now = now();
        let spec = spec(&format!(
            "{BASE}{}",
            client(
                "  redirectUris:\n  - https://pitangui.amazon.com/api/skill/link/M2ABC\n  - https://layla.amazon.com/api/skill/link/M2ABC\n  - https://app.example.com/cb\n"
            )
        ));
        let c = assess(
            &spec,
            &resolved_with(&ca, "link.example.com", now, 90),
            &[ca.root.der().clone()],
            now,
        );
        assert_eq!(
            (c.status, c.reason),
            ("False", reasons::REDIRECT_REGIONS_MISSING),
            "{c:?}"
        );
        assert!(
            c.message.contains("FE (alexa.amazon.co.jp)") && !c.message.contains("EU"),
            "{c:?}"
        );
    }

    #[test]
    fn a_certificate_the_operator_cannot_see_is_unknown() {
        let spec = spec(
            "host: link.example.com\ntls: {certManager: {issuerRef: {name: letsencrypt}}}\nidentity: {static: {usersSecretRef: {name: users, key: users.yaml}}}\nstorage: {embedded: {size: 1Gi}}\nclients: []\n",
        );
        let c = assess(&spec, &Resolved::default(), &[], now());
        assert_eq!(
            (c.status, c.reason),
            ("Unknown", reasons::CERTIFICATE_NOT_VISIBLE)
        );
        assert!(c.message.contains("doctor --url https://link.example.com"));
    }
}
