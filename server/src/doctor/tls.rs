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

use alexa_link_certcheck::{self as certcheck, ChainVerdict, ExpiryVerdict, NameVerdict};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CipherSuite, ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore,
    SignatureScheme,
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
    let roots = Arc::new(certcheck::trust(target.extra_roots));
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
    checks.extend(assess_chain(
        &chain,
        target.host,
        target.extra_roots,
        SystemTime::now(),
    ));
    checks
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

/// The verdicts on the chain the server sent, as checks: `tls.chain`
/// (trusted and complete), `tls.name`, `tls.expiry`.
fn assess_chain(
    chain: &[CertificateDer<'static>],
    host: &str,
    extra_roots: &[CertificateDer<'static>],
    now: SystemTime,
) -> Vec<Check> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let assessment = match certcheck::assess(chain, host, extra_roots, now) {
        Ok(a) => a,
        Err(e) => {
            return vec![
                Check::fail(
                    "tls.chain",
                    format!("the server sent {e}"),
                    "configure a PEM certificate chain on whatever ends TLS",
                ),
                Check::skip("tls.name", "no usable certificate"),
                Check::skip("tls.expiry", "no usable certificate"),
            ];
        }
    };
    let chain_check = match assessment.chain {
        ChainVerdict::Trusted { certificates } => Check::pass(
            "tls.chain",
            format!("trusted: {certificates} certificate(s) served, ending at a root Alexa trusts"),
        ),
        ChainVerdict::UntrustedRoot { root } => Check::fail(
            "tls.chain",
            format!(
                "untrusted: the chain ends at \"{root}\", a root that is not in the public root programs"
            ),
            "use a certificate from a public CA (Let's Encrypt through cert-manager works); Alexa trusts only public roots",
        ),
        ChainVerdict::Incomplete {
            certificates,
            last_subject,
            missing_issuer,
        } => Check::fail(
            "tls.chain",
            format!(
                "incomplete: the server sent {certificates} certificate(s); the last, \"{last_subject}\", is issued by \"{missing_issuer}\", which was not sent and is not a trusted root"
            ),
            "serve the full chain: the certificate followed by every intermediate (fullchain.pem; cert-manager's tls.crt already is one). Alexa does not fetch missing intermediates",
        ),
        ChainVerdict::Invalid(e) => Check::fail(
            "tls.chain",
            format!("the chain does not verify: {e}"),
            "serve a certificate chain from a public CA, leaf first",
        ),
    };
    let name_check = match assessment.name {
        NameVerdict::Matches => Check::pass("tls.name", format!("the certificate names {host}")),
        NameVerdict::Mismatch { names } => Check::fail(
            "tls.name",
            format!(
                "the certificate is for {} but Alexa calls {host}",
                if names.is_empty() {
                    "no DNS name".to_owned()
                } else {
                    names.join(", ")
                }
            ),
            format!("issue the certificate with {host} as a subjectAltName (dnsNames)"),
        ),
    };
    let days = |t: i64| (t - now) / 86_400;
    let expiry_check = match assessment.expiry {
        ExpiryVerdict::NotYetValid { not_before } => Check::fail(
            "tls.expiry",
            format!(
                "the certificate is valid only from {}",
                certcheck::date(not_before)
            ),
            "check the clock of the issuer, or wait",
        ),
        ExpiryVerdict::Expired { not_after } => Check::fail(
            "tls.expiry",
            format!("the certificate expired on {}", certcheck::date(not_after)),
            "renew it (cert-manager renews automatically; check the Certificate's status)",
        ),
        ExpiryVerdict::ExpiringSoon { not_after } => Check::warn(
            "tls.expiry",
            format!(
                "the certificate expires on {} ({} days)",
                certcheck::date(not_after),
                days(not_after)
            ),
            "renew it now; links fail the day it expires",
        ),
        ExpiryVerdict::Valid { not_after } => Check::pass(
            "tls.expiry",
            format!(
                "valid until {} ({} days)",
                certcheck::date(not_after),
                days(not_after)
            ),
        ),
    };
    vec![chain_check, name_check, expiry_check]
}
