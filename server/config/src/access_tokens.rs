//! `clients[].accessTokenFormat`, `clients[].accessTokenAudience` and
//! `accessTokenSigningKeyFiles`: what an access token is.
//!
//! `opaque` tokens are random strings the store keeps (one durable write per
//! token). `sealed` tokens are encrypted and authenticated with the
//! `encryptionKeyFiles` key ring and `jwt` tokens are RFC 9068 JWTs signed
//! with `accessTokenSigningKeyFiles`: neither is written anywhere, and both
//! still die with their grant (the server checks the grant's state).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::clients::ClientConfig;
use crate::error::Errors;

/// How a client's access tokens are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AccessTokenFormat {
    /// A random string whose record the store keeps (one write per token).
    #[default]
    Opaque,
    /// Opaque to the client, but self-contained: encrypted and authenticated
    /// with the `encryptionKeyFiles` key ring. Nothing is written.
    Sealed,
    /// An RFC 9068 JWT signed with `accessTokenSigningKeyFiles`, which a
    /// resource server verifies with the published JWKS. Nothing is written.
    Jwt,
}

impl AccessTokenFormat {
    /// The configuration name (`opaque`, `sealed`, `jwt`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Sealed => "sealed",
            AccessTokenFormat::Jwt => "jwt",
        }
    }

    /// Whether the default (kept out of rendered configs).
    pub fn is_opaque(&self) -> bool {
        *self == AccessTokenFormat::Opaque
    }
}

/// Checks that every format a client uses has its keys, and that
/// `accessTokenAudience` is only set where it means something.
pub(crate) fn validate(
    clients: &[ClientConfig],
    encryption_key_files: &[PathBuf],
    signing_key_files: &[PathBuf],
    errors: &mut Errors,
) {
    for (i, client) in clients.iter().enumerate() {
        let path = format!("clients[{i}]");
        match client.access_token_format {
            AccessTokenFormat::Sealed if encryption_key_files.is_empty() => errors.push(
                format!("{path}.accessTokenFormat"),
                "sealed access tokens need encryptionKeyFiles (the key ring that seals them)",
            ),
            AccessTokenFormat::Jwt if signing_key_files.is_empty() => errors.push(
                format!("{path}.accessTokenFormat"),
                "jwt access tokens need accessTokenSigningKeyFiles (PEM Ed25519 or P-256 keys)",
            ),
            _ => {}
        }
        if let Some(audience) = &client.access_token_audience {
            if client.access_token_format != AccessTokenFormat::Jwt {
                errors.push(
                    format!("{path}.accessTokenAudience"),
                    "only jwt access tokens carry an audience (set accessTokenFormat: jwt)",
                );
            } else if audience.is_empty() || audience.chars().any(char::is_whitespace) {
                errors.push(
                    format!("{path}.accessTokenAudience"),
                    "must be a non-empty identifier without spaces (the resource server's URL)",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};

    #[test]
    fn each_format_needs_its_keys() {
        let mut c = minimal();
        c.clients[0].access_token_format = AccessTokenFormat::Sealed;
        assert_eq!(invalid_fields(&c), ["clients[0].accessTokenFormat"]);
        c.encryption_key_files.push("/keys/1".into());
        assert_eq!(c.validate(), Ok(()));

        c.clients[0].access_token_format = AccessTokenFormat::Jwt;
        assert_eq!(invalid_fields(&c), ["clients[0].accessTokenFormat"]);
        c.access_token_signing_key_files
            .push("/keys/jwt.pem".into());
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn the_format_parses_from_yaml_and_opaque_stays_out_of_rendered_configs() {
        let yaml = crate::fixture::MINIMAL.replace(
            "    scopes: [profile]\n",
            "    scopes: [profile]\n    accessTokenFormat: jwt\n    accessTokenAudience: https://skill.example.com\n",
        ) + "accessTokenSigningKeyFiles: [/keys/jwt.pem]\n";
        let c = crate::Config::from_yaml(&yaml).expect("parses");
        assert_eq!(c.clients[0].access_token_format, AccessTokenFormat::Jwt);
        assert_eq!(c.validate(), Ok(()));
        assert!(
            !minimal().to_yaml().contains("accessTokenFormat"),
            "defaults are not rendered"
        );
        assert!(crate::Config::from_yaml(&yaml.replace("Format: jwt", "Format: jws")).is_err());
    }

    #[test]
    fn an_audience_belongs_to_jwt_tokens_only() {
        let mut c = minimal();
        c.clients[0].access_token_audience = Some("https://skill.example.com".into());
        assert_eq!(invalid_fields(&c), ["clients[0].accessTokenAudience"]);
        c.clients[0].access_token_format = AccessTokenFormat::Jwt;
        c.access_token_signing_key_files
            .push("/keys/jwt.pem".into());
        assert_eq!(c.validate(), Ok(()));
        c.clients[0].access_token_audience = Some("two words".into());
        assert_eq!(invalid_fields(&c), ["clients[0].accessTokenAudience"]);
    }
}
