//! `server.connections`: how many connections the public listener admits.

use serde::{Deserialize, Serialize};

use crate::error::Errors;

/// Default `maxConnections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default `maxConnectionsPerAddress`.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 256;
/// Default `maxTlsHandshakes`.
pub const DEFAULT_MAX_TLS_HANDSHAKES: usize = 128;

/// Caps on the public listener's connections, so that clients that open
/// many connections (or stall in a TLS handshake) cannot use up the
/// server. A connection over a cap is closed at once, before anything is
/// read from it. The admin listener is not capped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionLimitsConfig {
    /// Open connections in all (1 to 1000000).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Open connections from one client address, IPv6 counted per /64 (1
    /// to 1000000). Behind a proxy or Ingress every connection comes from
    /// the proxy: raise it to the proxy's connection pool size.
    #[serde(default = "default_max_per_address")]
    pub max_connections_per_address: usize,
    /// TLS handshakes in progress at once (1 to 100000); a handshake also
    /// ends after 10 s.
    #[serde(default = "default_max_tls_handshakes")]
    pub max_tls_handshakes: usize,
}

impl Default for ConnectionLimitsConfig {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            max_tls_handshakes: DEFAULT_MAX_TLS_HANDSHAKES,
        }
    }
}

fn default_max_connections() -> usize {
    DEFAULT_MAX_CONNECTIONS
}
fn default_max_per_address() -> usize {
    DEFAULT_MAX_CONNECTIONS_PER_ADDRESS
}
fn default_max_tls_handshakes() -> usize {
    DEFAULT_MAX_TLS_HANDSHAKES
}

impl ConnectionLimitsConfig {
    /// Whether these are the defaults (left out of rendered configs).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn validate(&self, errors: &mut Errors) {
        for (field, value, max) in [
            ("maxConnections", self.max_connections, 1_000_000),
            (
                "maxConnectionsPerAddress",
                self.max_connections_per_address,
                1_000_000,
            ),
            ("maxTlsHandshakes", self.max_tls_handshakes, 100_000),
        ] {
            if !(1..=max).contains(&value) {
                errors.push(
                    format!("server.connections.{field}"),
                    format!("must be between 1 and {max}, got {value}"),
                );
            }
        }
    }
}
