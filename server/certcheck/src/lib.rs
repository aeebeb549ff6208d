//! Judges a TLS certificate chain the way Alexa's client will meet it.
//!
//! Alexa calls account-linking URLs from a Java client that trusts the
//! public roots (Mozilla's list is the closest public stand-in), fetches no
//! missing intermediates, and needs the host name in the certificate. This
//! crate names each fault separately (incomplete chain, private root, wrong
//! name, expiry) so that both the server's `doctor` (which sees the chain a
//! live server sends) and the operator (which reads the chain from the TLS
//! Secret) can say what to fix. It does no I/O.

use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};

/// Certificates with less time left than this deserve a warning.
pub const EXPIRY_WARNING_SECONDS: i64 = 30 * 24 * 3600;

/// Is the chain trusted and complete?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// It ends at a trusted root.
    Trusted {
        /// Certificates in the chain as given.
        certificates: usize,
    },
    /// It stops short: the last certificate's issuer was neither given nor
    /// a trusted root (an intermediate is missing).
    Incomplete {
        /// Certificates in the chain as given.
        certificates: usize,
        /// The last one's subject.
        last_subject: String,
        /// Its issuer, which is missing.
        missing_issuer: String,
    },
    /// It ends at a self-signed root nobody trusts publicly.
    UntrustedRoot {
        /// That root's subject.
        root: String,
    },
    /// Something else is wrong with it.
    Invalid(String),
}

/// Does the certificate name the host?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameVerdict {
    /// Yes.
    Matches,
    /// No; these are the names it has.
    Mismatch {
        /// Its DNS subjectAltNames.
        names: Vec<String>,
    },
}

/// How long is the certificate valid?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryVerdict {
    /// Valid, with more than [`EXPIRY_WARNING_SECONDS`] left.
    Valid {
        /// Unix seconds.
        not_after: i64,
    },
    /// Valid, but not for long.
    ExpiringSoon {
        /// Unix seconds.
        not_after: i64,
    },
    /// No longer valid.
    Expired {
        /// Unix seconds.
        not_after: i64,
    },
    /// Not valid yet.
    NotYetValid {
        /// Unix seconds.
        not_before: i64,
    },
}

/// The three verdicts on one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// Trusted and complete.
    pub chain: ChainVerdict,
    /// The host name.
    pub name: NameVerdict,
    /// Validity period.
    pub expiry: ExpiryVerdict,
}

/// Why a chain could not be judged at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unjudgeable {
    /// There is no certificate.
    Empty,
    /// The first certificate cannot be parsed.
    Unparsable,
}

impl std::fmt::Display for Unjudgeable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unjudgeable::Empty => "no certificate",
            Unjudgeable::Unparsable => "the certificate cannot be parsed",
        })
    }
}

impl std::error::Error for Unjudgeable {}

/// The certificates of a PEM bundle (`tls.crt`), in order; others skipped.
pub fn pem_chain(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    rustls_pemfile::certs(&mut &pem[..])
        .filter_map(Result::ok)
        .collect()
}

/// Judges `chain` (leaf first) for `host` as of `now` (Unix seconds),
/// trusting Mozilla's roots plus `extra_roots`.
pub fn assess(
    chain: &[CertificateDer<'_>],
    host: &str,
    extra_roots: &[CertificateDer<'static>],
    now: i64,
) -> Result<Assessment, Unjudgeable> {
    let (leaf_der, intermediates) = chain.split_first().ok_or(Unjudgeable::Empty)?;
    let leaf = Facts::of(leaf_der).ok_or(Unjudgeable::Unparsable)?;
    // Judge the chain at a time the leaf is valid, so an expired leaf is
    // reported once (as expiry) and an incomplete chain still gets named.
    let at = if now > leaf.not_after || now < leaf.not_before {
        leaf.not_before.saturating_add(1)
    } else {
        now
    };
    let chain_verdict = match verify(leaf_der, intermediates, host, extra_roots, at) {
        // The name is judged on its own below.
        Ok(()) | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) => {
            ChainVerdict::Trusted {
                certificates: chain.len(),
            }
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            match chain.last().and_then(|c| Facts::of(c)) {
                Some(last) if last.subject == last.issuer => {
                    ChainVerdict::UntrustedRoot { root: last.subject }
                }
                Some(last) => ChainVerdict::Incomplete {
                    certificates: chain.len(),
                    last_subject: last.subject,
                    missing_issuer: last.issuer,
                },
                None => ChainVerdict::Invalid("a certificate of the chain cannot be parsed".into()),
            }
        }
        Err(e) => ChainVerdict::Invalid(e.to_string()),
    };
    let name = if leaf.dns_names.iter().any(|n| name_matches(n, host)) {
        NameVerdict::Matches
    } else {
        NameVerdict::Mismatch {
            names: leaf.dns_names,
        }
    };
    let expiry = if now < leaf.not_before {
        ExpiryVerdict::NotYetValid {
            not_before: leaf.not_before,
        }
    } else if now >= leaf.not_after {
        ExpiryVerdict::Expired {
            not_after: leaf.not_after,
        }
    } else if leaf.not_after - now < EXPIRY_WARNING_SECONDS {
        ExpiryVerdict::ExpiringSoon {
            not_after: leaf.not_after,
        }
    } else {
        ExpiryVerdict::Valid {
            not_after: leaf.not_after,
        }
    };
    Ok(Assessment {
        chain: chain_verdict,
        name,
        expiry,
    })
}

/// What Alexa's client trusts, approximated by Mozilla's root list, plus
/// `extra` (a private CA under test).
pub fn trust(extra: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for root in extra {
        // An unusable extra root simply trusts nothing more.
        let _ = roots.add(root.clone());
    }
    roots
}

/// RFC 6125: an exact match, or a wildcard for exactly the leftmost label.
pub fn name_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let pattern = pattern.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

/// `2027-03-05` for Unix seconds.
pub fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// The parts of a certificate the verdicts need.
struct Facts {
    subject: String,
    issuer: String,
    dns_names: Vec<String>,
    not_before: i64,
    not_after: i64,
}

impl Facts {
    fn of(cert: &CertificateDer<'_>) -> Option<Facts> {
        let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
        let dns_names = match x509.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        Some(d.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Facts {
            subject: x509.subject().to_string(),
            issuer: x509.issuer().to_string(),
            dns_names,
            not_before: x509.validity().not_before.timestamp(),
            not_after: x509.validity().not_after.timestamp(),
        })
    }
}

fn verify(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    host: &str,
    extra_roots: &[CertificateDer<'static>],
    at: i64,
) -> Result<(), rustls::Error> {
    let roots = trust(extra_roots);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| rustls::Error::General(format!("{host:?} is not a host name")))?;
    let at = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap_or(0)));
    rustls::client::danger::ServerCertVerifier::verify_server_cert(
        verifier.as_ref(),
        leaf,
        intermediates,
        &name,
        &[],
        at,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

    const DAY: i64 = 86_400;

    struct Ca {
        root: rcgen::Certificate,
        intermediate: rcgen::Certificate,
        key: KeyPair,
    }

    fn ca() -> Ca {
        let params = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            p
        };
        let root_key = KeyPair::generate().expect("key");
        let root = params("test root").self_signed(&root_key).expect("root");
        let key = KeyPair::generate().expect("key");
        let intermediate = params("test intermediate")
            .signed_by(&key, &root, &root_key)
            .expect("intermediate");
        Ca {
            root,
            intermediate,
            key,
        }
    }

    /// A leaf for `name` valid from `now + from` to `now + until` days.
    fn leaf(ca: &Ca, name: &str, now: i64, from: i64, until: i64) -> CertificateDer<'static> {
        let mut p = CertificateParams::new(vec![name.to_owned()]).expect("params");
        p.not_before = time::OffsetDateTime::from_unix_timestamp(now + from * DAY).expect("t");
        p.not_after = time::OffsetDateTime::from_unix_timestamp(now + until * DAY).expect("t");
        let key = KeyPair::generate().expect("key");
        p.signed_by(&key, &ca.intermediate, &ca.key)
            .expect("leaf")
            .der()
            .clone()
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[test]
    fn each_fault_gets_its_own_verdict() {
        let ca = ca();
        let now = now();
        let root = [ca.root.der().clone()];
        let inter = ca.intermediate.der().clone();
        let good = leaf(&ca, "link.example.com", now, -1, 90);

        let a = assess(
            &[good.clone(), inter.clone()],
            "link.example.com",
            &root,
            now,
        )
        .expect("judged");
        assert_eq!(a.chain, ChainVerdict::Trusted { certificates: 2 });
        assert_eq!(a.name, NameVerdict::Matches);
        assert!(matches!(a.expiry, ExpiryVerdict::Valid { .. }));

        let a =
            assess(std::slice::from_ref(&good), "link.example.com", &root, now).expect("judged");
        assert!(
            matches!(&a.chain, ChainVerdict::Incomplete { missing_issuer, .. } if missing_issuer.contains("test intermediate")),
            "{a:?}"
        );

        let a =
            assess(&[good.clone(), inter.clone()], "link.example.com", &[], now).expect("judged");
        assert!(
            matches!(&a.chain, ChainVerdict::Incomplete { .. }),
            "the root was not sent: {a:?}"
        );
        let a = assess(
            &[good.clone(), inter.clone(), root[0].clone()],
            "link.example.com",
            &[],
            now,
        )
        .expect("judged");
        assert!(
            matches!(&a.chain, ChainVerdict::UntrustedRoot { root } if root.contains("test root")),
            "{a:?}"
        );

        let a = assess(&[good, inter.clone()], "other.example.com", &root, now).expect("judged");
        assert_eq!(
            a.name,
            NameVerdict::Mismatch {
                names: vec!["link.example.com".into()]
            }
        );

        let expired = leaf(&ca, "link.example.com", now, -100, -1);
        let a = assess(&[expired, inter.clone()], "link.example.com", &root, now).expect("judged");
        assert!(matches!(a.expiry, ExpiryVerdict::Expired { .. }));
        assert_eq!(
            a.chain,
            ChainVerdict::Trusted { certificates: 2 },
            "expiry is reported once"
        );

        let soon = leaf(&ca, "link.example.com", now, -60, 10);
        let a = assess(&[soon, inter], "link.example.com", &root, now).expect("judged");
        assert!(matches!(a.expiry, ExpiryVerdict::ExpiringSoon { .. }));

        assert_eq!(assess(&[], "h", &[], now), Err(Unjudgeable::Empty));
    }

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(name_matches("link.example.com", "LINK.example.com"));
        assert!(name_matches("*.example.com", "link.example.com"));
        assert!(!name_matches("*.example.com", "a.link.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
    }

    #[test]
    fn pem_bundles_keep_their_order() {
        let ca = ca();
        let pem = format!("{}{}", ca.intermediate.pem(), ca.root.pem());
        let chain = pem_chain(pem.as_bytes());
        assert_eq!(
            chain,
            vec![ca.intermediate.der().clone(), ca.root.der().clone()]
        );
        assert!(pem_chain(b"not pem").is_empty());
    }
}
