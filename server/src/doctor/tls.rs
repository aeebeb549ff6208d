//! The TLS checks: the handshake as Alexa's Java client makes it.
//!
//! Alexa calls the token endpoint from a Java client that speaks TLS 1.2
//! with ECDHE and AES-GCM suites, trusts the public roots (Mozilla's list is
//! the closest public stand-in) and fetches no missing intermediates. A
//! server that offers only TLS 1.3, serves its leaf without the chain, or
//! has a certificate for another name fails there with no message anyone
//! sees. We shake hands the same way, keep the chain the server sent, and
//! judge it ourselves, so each fault gets its own name.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion,
    RootCertStore, SignatureScheme,
};
use tokio::net::TcpStream;

use super::report::Check;

/// TLS 1.2 suites a Java 8 client offers that a modern server should too.
const JAVA8_SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// Certificates that expire sooner than this get a warning.
const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// Where and how to shake hands.
pub struct Target<'a> {
    /// The public host name (SNI, and the name the certificate must carry).
    pub host: &'a str,
    /// The address to connect to.
    pub addr: SocketAddr,
    /// Roots trusted besides Mozilla's (a private CA under test).
    pub extra_roots: &'a [CertificateDer<'static>],
    /// How long a handshake may take.
    pub timeout: Duration,
}

/// Runs the TLS checks: `tls.handshake`, `tls.chain`, `tls.name`, `tls.expiry`.
pub async fn check(target: &Target<'_>) -> Vec<Check> {
    let roots = Arc::new(root_store(target.extra_roots));
    let java8 = handshake(target, &roots, Profile::Java8).await;
    let mut checks = Vec::new();
    let chain = match java8 {
        Ok(seen) => {
            checks.push(Check::pass(
                "tls.handshake",
                format!(
                    "TLS 1.2 with {} (a suite Alexa's Java client offers)",
                    seen.suite
                ),
            ));
            seen.chain
        }
        Err(java8_error) => {
            // Why did it fail? Try again the way a modern client would.
            match handshake(target, &roots, Profile::Modern).await {
                Ok(seen) if seen.version == ProtocolVersion::TLSv1_3 => {
                    checks.push(Check::fail(
                        "tls.handshake",
                        "the server speaks only TLS 1.3; Alexa's client needs TLS 1.2",
                        "enable TLS 1.2 with ECDHE-RSA/ECDSA-AES-GCM suites on whatever ends TLS (load balancer, ingress, or this server)",
                    ));
                    seen.chain
                }
                Ok(seen) => {
                    checks.push(Check::fail(
                        "tls.handshake",
                        format!(
                            "TLS 1.2 works only with {}, which Alexa's Java client does not offer",
                            seen.suite
                        ),
                        "offer ECDHE with AES-GCM (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 and friends)",
                    ));
                    seen.chain
                }
                Err(_) => {
                    checks.push(Check::fail(
                        "tls.handshake",
                        format!("no TLS handshake with {}: {java8_error}", target.addr),
                        "check that the host resolves to your load balancer and that it serves HTTPS on port 443",
                    ));
                    for id in ["tls.chain", "tls.name", "tls.expiry"] {
                        checks.push(Check::skip(id, "no certificate was received"));
                    }
                    return checks;
                }
            }
        }
    };
    checks.extend(assess_chain(&chain, target.host, &roots, SystemTime::now()));
    checks
}

/// The trust a Java client ships with, approximated by Mozilla's list, plus
/// the extra roots.
fn root_store(extra: &[CertificateDer<'static>]) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        // A root that cannot be parsed is reported when the chain fails.
        let _ = roots.add(cert.clone());
    }
    roots
}

#[derive(Clone, Copy)]
enum Profile {
    /// TLS 1.2, Java 8's suites.
    Java8,
    /// TLS 1.3 and 1.2, every suite rustls has.
    Modern,
}

/// What one handshake saw.
struct Seen {
    version: ProtocolVersion,
    suite: String,
    chain: Vec<CertificateDer<'static>>,
}

async fn handshake(
    target: &Target<'_>,
    roots: &Arc<RootCertStore>,
    profile: Profile,
) -> Result<Seen, String> {
    let mut provider = rustls::crypto::ring::default_provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match profile {
        Profile::Java8 => {
            provider
                .cipher_suites
                .retain(|s| JAVA8_SUITES.contains(&s.suite()));
            &[&rustls::version::TLS12]
        }
        Profile::Modern => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let provider = Arc::new(provider);
    let inner = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .build()
        .map_err(|e| format!("failed to build the certificate verifier: {e}"))?;
    let recorder = Arc::new(Recorder {
        inner,
        chain: Mutex::default(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("failed to configure TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(target.host.to_owned())
        .map_err(|_| format!("{:?} is not a valid host name", target.host))?;
    let connect = async {
        let tcp = TcpStream::connect(target.addr)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake failed: {e}"))
    };
    let stream = tokio::time::timeout(target.timeout, connect)
        .await
        .map_err(|_| format!("no handshake within {} s", target.timeout.as_secs()))??;
    let (_, connection) = stream.get_ref();
    let version = connection
        .protocol_version()
        .unwrap_or(ProtocolVersion::Unknown(0));
    let suite = connection
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    let chain = std::mem::take(&mut *recorder.chain.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Seen {
        version,
        suite,
        chain,
    })
}

/// Keeps the chain the server sent and lets every handshake finish: the
/// verdict on the chain is ours to give, with a name for each fault.
/// Signatures are still checked, so the chain is really the server's.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self.chain.lock().unwrap_or_else(|p| p.into_inner()) = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The leaf's facts that the checks need.
struct Leaf {
    subject: String,
    issuer: String,
    dns_names: Vec<String>,
    not_before: i64,
    not_after: i64,
}

fn parse(cert: &CertificateDer<'_>) -> Option<Leaf> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let dns_names = match x509.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_ascii_lowercase()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(Leaf {
        subject: x509.subject().to_string(),
        issuer: x509.issuer().to_string(),
        dns_names,
        not_before: x509.validity().not_before.timestamp(),
        not_after: x509.validity().not_after.timestamp(),
    })
}

/// RFC 6125: an exact match, or a wildcard for exactly the leftmost label.
fn name_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
        None => pattern == host,
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn date(timestamp: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(timestamp)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| timestamp.to_string())
}

/// Judges the chain the server sent, as of `now`: `tls.chain` (trusted and
/// complete), `tls.name`, `tls.expiry`. Pure but for the verifier, which is
/// deterministic for a given chain, roots and time.
fn assess_chain(
    chain: &[CertificateDer<'static>],
    host: &str,
    roots: &Arc<RootCertStore>,
    now: SystemTime,
) -> Vec<Check> {
    let Some((leaf_der, intermediates)) = chain.split_first() else {
        return vec![
            Check::fail(
                "tls.chain",
                "the server sent no certificate",
                "configure a certificate on whatever ends TLS",
            ),
            Check::skip("tls.name", "no certificate"),
            Check::skip("tls.expiry", "no certificate"),
        ];
    };
    let Some(leaf) = parse(leaf_der) else {
        return vec![
            Check::fail(
                "tls.chain",
                "the server's certificate cannot be parsed",
                "serve a PEM/DER X.509 certificate",
            ),
            Check::skip("tls.name", "unparsable certificate"),
            Check::skip("tls.expiry", "unparsable certificate"),
        ];
    };
    let now_unix = unix(now);
    // Judge the chain at a time the leaf is valid, so an expired leaf is
    // reported once (as expiry) and an incomplete chain still gets named.
    let at = if now_unix > leaf.not_after || now_unix < leaf.not_before {
        leaf.not_before.saturating_add(1)
    } else {
        now_unix
    };
    let verify_at = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap_or(0)));
    let chain_check = match verify_chain(leaf_der, intermediates, host, roots, verify_at) {
        Ok(()) | Err(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)) => {
            Check::pass(
                "tls.chain",
                format!(
                    "trusted: {} certificate(s) served, ending at a root Alexa trusts",
                    chain.len()
                ),
            )
        }
        Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            let last = chain.last().and_then(|c| parse(c));
            match last {
                Some(last) if last.subject == last.issuer => Check::fail(
                    "tls.chain",
                    format!(
                        "untrusted: the chain ends at \"{}\", a root that is not in the public root programs",
                        last.subject
                    ),
                    "use a certificate from a public CA (Let's Encrypt through cert-manager works); Alexa trusts only public roots",
                ),
                Some(last) => Check::fail(
                    "tls.chain",
                    format!(
                        "incomplete: the server sent {} certificate(s); the last, \"{}\", is issued by \"{}\", which was not sent and is not a trusted root",
                        chain.len(),
                        last.subject,
                        last.issuer
                    ),
                    "serve the full chain: the certificate followed by every intermediate (fullchain.pem; cert-manager's tls.crt already is one). Alexa does not fetch missing intermediates",
                ),
                None => Check::fail(
                    "tls.chain",
                    "untrusted: a certificate of the chain cannot be parsed",
                    "serve the full chain in PEM",
                ),
            }
        }
        Err(e) => Check::fail(
            "tls.chain",
            format!("the chain does not verify: {e}"),
            "serve a certificate chain from a public CA, leaf first",
        ),
    };
    let name_check = if leaf.dns_names.iter().any(|n| name_matches(n, host)) {
        Check::pass("tls.name", format!("the certificate names {host}"))
    } else {
        Check::fail(
            "tls.name",
            format!(
                "the certificate is for {} but Alexa calls {host}",
                if leaf.dns_names.is_empty() {
                    "no DNS name".to_owned()
                } else {
                    leaf.dns_names.join(", ")
                }
            ),
            format!("issue the certificate with {host} as a subjectAltName (dnsNames)"),
        )
    };
    let left = leaf.not_after.saturating_sub(now_unix);
    let expiry_check = if now_unix < leaf.not_before {
        Check::fail(
            "tls.expiry",
            format!(
                "the certificate is valid only from {}",
                date(leaf.not_before)
            ),
            "check the clock of the issuer, or wait",
        )
    } else if left <= 0 {
        Check::fail(
            "tls.expiry",
            format!("the certificate expired on {}", date(leaf.not_after)),
            "renew it (cert-manager renews automatically; check the Certificate's status)",
        )
    } else if u64::try_from(left).unwrap_or(0) < EXPIRY_WARNING.as_secs() {
        Check::warn(
            "tls.expiry",
            format!(
                "the certificate expires on {} ({} days)",
                date(leaf.not_after),
                left / 86_400
            ),
            "renew it now; links fail the day it expires",
        )
    } else {
        Check::pass(
            "tls.expiry",
            format!(
                "valid until {} ({} days)",
                date(leaf.not_after),
                left / 86_400
            ),
        )
    };
    vec![chain_check, name_check, expiry_check]
}

fn verify_chain(
    leaf: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    host: &str,
    roots: &Arc<RootCertStore>,
    at: UnixTime,
) -> Result<(), rustls::Error> {
    let provider: Arc<CryptoProvider> = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| rustls::Error::General(format!("{host:?} is not a host name")))?;
    verifier
        .verify_server_cert(leaf, intermediates, &name, &[], at)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn wildcards_cover_one_label_only() {
        assert!(name_matches("link.example.com", "LINK.example.com"));
        assert!(name_matches("*.example.com", "link.example.com"));
        assert!(!name_matches("*.example.com", "a.link.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("other.example.com", "link.example.com"));
    }
}
