//! TLS for the public listener: rustls (ring), TLS 1.2 and 1.3 only, and a
//! watcher that reloads the certificate when its files change.
//!
//! Kubernetes updates a mounted Secret by swapping a symlink, which file
//! watchers notice unreliably; polling the files' contents is simple and
//! always right. A reload only affects new handshakes: established
//! connections keep going.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use sha2::{Digest, Sha256};

use crate::config::TlsConfig;

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("failed to read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The PEM content is unusable.
    #[error("invalid TLS material in {path}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// The files' contents, read together.
struct Material {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl Material {
    fn read(tls: &TlsConfig) -> Result<Material, TlsError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| TlsError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        Ok(Material {
            cert: read(&tls.cert_file)?,
            key: read(&tls.key_file)?,
        })
    }

    fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(&self.cert);
        h.update([0]);
        h.update(&self.key);
        h.finalize().into()
    }

    fn server_config(&self, tls: &TlsConfig) -> Result<ServerConfig, TlsError> {
        let cert_path = tls.cert_file.display().to_string();
        let key_path = tls.key_file.display().to_string();
        let certs = rustls_pemfile::certs(&mut self.cert.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid {
                path: cert_path.clone(),
                message: e.to_string(),
            })?;
        if certs.is_empty() {
            return Err(TlsError::Invalid {
                path: cert_path,
                message: "no certificate found".into(),
            });
        }
        let key = rustls_pemfile::private_key(&mut self.key.as_slice())
            .map_err(|e| TlsError::Invalid {
                path: key_path.clone(),
                message: e.to_string(),
            })?
            .ok_or_else(|| TlsError::Invalid {
                path: key_path.clone(),
                message: "no private key found".into(),
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Invalid {
                path: cert_path.clone(),
                message: e.to_string(),
            })?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Invalid {
                path: cert_path,
                message: e.to_string(),
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Loads the certificate and starts watching it. Returns the config the
/// listener uses; the watcher swaps its contents on change.
pub async fn load_and_watch(tls: &TlsConfig, every: Duration) -> Result<RustlsConfig, TlsError> {
    let material = Material::read(tls)?;
    let rustls = RustlsConfig::from_config(Arc::new(material.server_config(tls)?));
    let watched = rustls.clone();
    let tls = tls.clone();
    let mut current = material.fingerprint();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let material = match Material::read(&tls) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read TLS files; keeping the current certificate");
                    continue;
                }
            };
            let fingerprint = material.fingerprint();
            if fingerprint == current {
                continue;
            }
            // During a Secret update the two files may briefly disagree; a
            // failed load is retried on the next tick.
            match material.server_config(&tls) {
                Ok(config) => {
                    watched.reload_from_config(Arc::new(config));
                    current = fingerprint;
                    tracing::info!(cert = %tls.cert_file.display(), "TLS certificate reloaded");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "new TLS material is not usable yet; keeping the current certificate")
                }
            }
        }
    });
    Ok(rustls)
}
