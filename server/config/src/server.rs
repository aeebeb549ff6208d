//! `server`: the listeners, the public URL and TLS.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::connections::ConnectionLimitsConfig;
use crate::error::Errors;
use crate::rules::url_is_loopback;

/// Port of the public listener unless `listen` says otherwise.
pub const DEFAULT_PUBLIC_PORT: u16 = 8443;
/// Port of the admin listener unless `adminListen` says otherwise.
pub const DEFAULT_ADMIN_PORT: u16 = 9090;
/// Default `listen`: every interface, [`DEFAULT_PUBLIC_PORT`].
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(
    Ipv4Addr::UNSPECIFIED,
    DEFAULT_PUBLIC_PORT,
));
/// Default `adminListen`: every interface, [`DEFAULT_ADMIN_PORT`].
pub const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, DEFAULT_ADMIN_PORT));

/// Listeners, public URL and TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the public listener (the OAuth endpoints and pages).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Address of the admin listener (`/healthz`, `/readyz`, `/metrics`).
    #[serde(default = "default_admin_listen")]
    pub admin_listen: SocketAddr,
    /// The URL Alexa and browsers reach this server at, e.g.
    /// `https://link.example.com`. It is the OAuth issuer and the base of every
    /// endpoint URL this server advertises.
    pub public_url: Url,
    /// Certificate and key for the public listener. Absent: plain HTTP, which
    /// is allowed only on a loopback address or with `allowInsecureHttp`.
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Serve plain HTTP on a non-loopback address, for when TLS ends in front
    /// of the server (an Ingress or load balancer). Never expose such a
    /// listener directly.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// File holding at least 32 random bytes that encrypt and authenticate the
    /// login and CSRF cookies. Every replica must read the same key.
    pub session_key_file: PathBuf,
    /// Caps on the public listener's connections.
    #[serde(default, skip_serializing_if = "ConnectionLimitsConfig::is_default")]
    pub connections: ConnectionLimitsConfig,
}

/// Certificate and private key files, PEM encoded. Both are re-read when they
/// change on disk (Kubernetes rewrites mounted Secrets in place).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first (`tls.crt` of a `kubernetes.io/tls` Secret).
    pub cert_file: PathBuf,
    /// PEM private key (`tls.key`).
    pub key_file: PathBuf,
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
}
fn default_admin_listen() -> SocketAddr {
    DEFAULT_ADMIN_LISTEN
}

impl ServerConfig {
    pub(crate) fn validate(&self, errors: &mut Errors) {
        let url = &self.public_url;
        if url.scheme() != "https" && url.scheme() != "http" {
            errors.push("server.publicUrl", "must be an https:// URL");
        } else if url.scheme() == "http" && !self.allow_insecure_http && !url_is_loopback(url) {
            errors.push(
                "server.publicUrl",
                "must be https:// (http:// is allowed only for loopback hosts or with server.allowInsecureHttp)",
            );
        }
        if url.query().is_some() || url.fragment().is_some() {
            errors.push("server.publicUrl", "must not have a query or fragment");
        }
        if url.cannot_be_a_base() || url.host_str().is_none() {
            errors.push("server.publicUrl", "must be an absolute URL with a host");
        }
        if self.tls.is_none() && !self.allow_insecure_http && !self.listen.ip().is_loopback() {
            errors.push(
                "server.tls",
                format!(
                    "is required when listening on the non-loopback address {} (or set server.allowInsecureHttp when TLS ends in front of the server)",
                    self.listen
                ),
            );
        }
        if self.listen == self.admin_listen && self.listen.port() != 0 {
            errors.push("server.adminListen", "must differ from server.listen");
        }
        self.connections.validate(errors);
    }
}

#[cfg(test)]
mod tests {
    use url::Url;

    use crate::fixture::{invalid_fields, minimal};

    #[test]
    fn plain_http_needs_loopback_or_explicit_flag() {
        let mut c = minimal();
        c.server.listen = "0.0.0.0:8080".parse().expect("addr");
        assert_eq!(invalid_fields(&c), vec!["server.tls"]);
        c.server.allow_insecure_http = true;
        assert_eq!(c.validate(), Ok(()));

        let mut c = minimal();
        c.server.public_url = Url::parse("http://link.example.com").expect("url");
        assert_eq!(invalid_fields(&c), vec!["server.publicUrl"]);
        c.server.public_url = Url::parse("http://127.0.0.1:8443").expect("url");
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn listeners_default_to_every_interface() {
        let text = crate::fixture::MINIMAL
            .replace("  listen: 127.0.0.1:8443\n", "")
            .replace("  adminListen: 127.0.0.1:9090\n", "");
        let c = crate::Config::from_yaml(&text).expect("parses");
        assert_eq!(c.server.listen.to_string(), "0.0.0.0:8443");
        assert_eq!(c.server.admin_listen.to_string(), "0.0.0.0:9090");
    }
}
