//! A PEM CA bundle for the server's outbound TLS: the LDAP directory, the
//! upstream OpenID Provider and the Login with Amazon token endpoint.
//!
//! A configured bundle *replaces* the public roots rather than adding to
//! them: whoever sets `caFile` says which CA signs that one peer (a private
//! directory or provider, an egress proxy that re-signs TLS), and trusting
//! every public CA besides would only widen who can impersonate it. Without
//! a bundle the clients keep the public (webpki) roots.

use std::path::Path;
use std::sync::Arc;

/// Why a CA bundle cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaBundleError {
    /// The file could not be read.
    #[error("failed to read the CA file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file holds no usable CA certificate.
    #[error("invalid CA file {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// A rustls client config (ring, TLS 1.2 and 1.3) that trusts exactly the
/// certificates in `pem`.
pub fn client_config(pem: &[u8]) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut &pem[..]) {
        let cert = cert.map_err(|e| format!("not PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("not a usable CA certificate: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| e.to_string())
}

/// Reads `path` into a client config that trusts exactly its certificates.
pub fn read(path: &Path) -> Result<rustls::ClientConfig, CaBundleError> {
    let pem = std::fs::read(path).map_err(|source| CaBundleError::Read {
        path: path.display().to_string(),
        source,
    })?;
    client_config(&pem).map_err(|message| CaBundleError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

/// An HTTP client builder that trusts the CAs in `ca_file` when one is
/// configured, and the public roots otherwise.
pub fn trust(
    builder: reqwest::ClientBuilder,
    ca_file: Option<&Path>,
) -> Result<reqwest::ClientBuilder, CaBundleError> {
    Ok(match ca_file {
        Some(path) => builder.use_preconfigured_tls(read(path)?),
        None => builder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let err = read(&path).expect_err("no certificate");
        assert!(
            err.to_string()
                .contains(&format!("invalid CA file {}", path.display())),
            "{err}"
        );
        let err = read(&dir.path().join("missing.pem")).expect_err("missing");
        assert!(matches!(err, CaBundleError::Read { .. }), "{err}");
    }
}
