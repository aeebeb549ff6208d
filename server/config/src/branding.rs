//! `branding` (server-wide) and `clients[].branding` (per client): how the
//! login, consent and linked-apps pages look to the skill's users.
//!
//! Everything here is optional; an absent field keeps the built-in look. A
//! client's branding overrides the server's field by field. The checks here
//! are the ones that need no file system (syntax of colors, URLs and data
//! URLs); the server reads the named files at start and names the field of
//! any that is missing or unusable.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::Errors;

/// The largest logo accepted, decoded (a data URL or a file): it is sent
/// inline with every page, to a phone.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;
/// The largest extra style sheet accepted.
pub const MAX_EXTRA_CSS_BYTES: usize = 64 * 1024;
/// The longest product name accepted (it shares a phone's title bar).
pub const MAX_PRODUCT_NAME_CHARS: usize = 60;
/// The file names of the pages' templates: a template override directory
/// (`branding.templatesDir`) may hold only these. The server's built-in
/// templates carry the same names; the operator checks a templates
/// ConfigMap's keys against this list before the pods roll.
pub const TEMPLATE_NAMES: [&str; 7] = [
    "layout.html",
    "login.html",
    "consent.html",
    "links.html",
    "signed_out.html",
    "error.html",
    "app_to_app.html",
];
/// The image types a logo may have, as data-URL media types.
pub const LOGO_MEDIA_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/svg+xml",
];

/// The look of the pages. Field names as in the config file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrandingConfig {
    /// The product's name, in page titles and above the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The logo: a file (PNG, JPEG, GIF, WebP or SVG) or a `data:image/...;base64,`
    /// URL; at most 64 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// Buttons and links: `#rgb` or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// A help page, linked under the card (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<Url>,
    /// The privacy policy, linked under the card (https).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_url: Option<Url>,
    /// A style sheet served from this server after the built-in styles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_css_file: Option<PathBuf>,
    /// A directory of templates that replace the built-in ones by file name
    /// (`layout.html`, `login.html`, ...). Server-wide only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_dir: Option<PathBuf>,
}

impl BrandingConfig {
    /// Whether nothing is set (the built-in look).
    pub fn is_empty(&self) -> bool {
        self == &BrandingConfig::default()
    }

    /// This branding with `over`'s fields put on top: a client's branding
    /// over the server's.
    pub fn merged(&self, over: &BrandingConfig) -> BrandingConfig {
        BrandingConfig {
            product_name: over
                .product_name
                .clone()
                .or_else(|| self.product_name.clone()),
            logo: over.logo.clone().or_else(|| self.logo.clone()),
            primary_color: over
                .primary_color
                .clone()
                .or_else(|| self.primary_color.clone()),
            support_url: over
                .support_url
                .clone()
                .or_else(|| self.support_url.clone()),
            privacy_url: over
                .privacy_url
                .clone()
                .or_else(|| self.privacy_url.clone()),
            extra_css_file: over
                .extra_css_file
                .clone()
                .or_else(|| self.extra_css_file.clone()),
            templates_dir: over
                .templates_dir
                .clone()
                .or_else(|| self.templates_dir.clone()),
        }
    }

    /// The syntax checks; `path` is `branding` or `clients[i].branding`.
    pub(crate) fn validate(&self, path: &str, server_wide: bool, errors: &mut Errors) {
        if let Some(name) = &self.product_name
            && (name.trim().is_empty()
                || name.chars().count() > MAX_PRODUCT_NAME_CHARS
                || name.chars().any(char::is_control))
        {
            errors.push(
                format!("{path}.productName"),
                format!(
                    "must be 1 to {MAX_PRODUCT_NAME_CHARS} characters without control characters"
                ),
            );
        }
        if let Some(color) = &self.primary_color
            && !is_hex_color(color)
        {
            errors.push(
                format!("{path}.primaryColor"),
                format!("{color:?} is not a color: use #rgb or #rrggbb"),
            );
        }
        for (field, url) in [
            ("supportUrl", &self.support_url),
            ("privacyUrl", &self.privacy_url),
        ] {
            if let Some(url) = url
                && (url.scheme() != "https" || url.host_str().is_none())
            {
                errors.push(format!("{path}.{field}"), "must be an https:// URL");
            }
        }
        if let Some(logo) = &self.logo {
            if logo.is_empty() {
                errors.push(format!("{path}.logo"), "must be a file path or a data URL");
            } else if logo.starts_with("data:")
                && let Err(message) = check_logo_data_url(logo)
            {
                errors.push(format!("{path}.logo"), message);
            }
        }
        if !server_wide && self.templates_dir.is_some() {
            errors.push(
                format!("{path}.templatesDir"),
                "is server-wide only: set branding.templatesDir",
            );
        }
    }
}

/// `#rgb` or `#rrggbb`.
pub fn is_hex_color(s: &str) -> bool {
    let Some(hex) = s.strip_prefix('#') else {
        return false;
    };
    (hex.len() == 3 || hex.len() == 6) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// A logo's media type from its first bytes (not its name): one of
/// [`LOGO_MEDIA_TYPES`], or `None` for anything else.
pub fn logo_image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        let text = std::str::from_utf8(bytes).ok()?;
        text.contains("<svg").then_some("image/svg+xml")
    }
}

/// Splits a logo data URL into its media type and base64 payload, checking
/// the media type, the alphabet and the decoded size.
pub fn check_logo_data_url(url: &str) -> Result<(&str, &str), String> {
    let rest = url.strip_prefix("data:").unwrap_or(url);
    let Some((media, payload)) = rest.split_once(";base64,") else {
        return Err("a data URL logo must be data:image/<type>;base64,<data>".into());
    };
    if !LOGO_MEDIA_TYPES.contains(&media) {
        return Err(format!(
            "media type {media:?} is not one of {}",
            LOGO_MEDIA_TYPES.join(", ")
        ));
    }
    let valid = !payload.is_empty()
        && payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !valid {
        return Err("the data URL's payload is not base64".into());
    }
    if payload.len() / 4 * 3 > MAX_LOGO_BYTES {
        return Err(format!("the logo is larger than {MAX_LOGO_BYTES} bytes"));
    }
    Ok((media, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{invalid_fields, minimal};

    #[test]
    fn colors_are_hex() {
        assert!(is_hex_color("#0a66c2"));
        assert!(is_hex_color("#FFF"));
        for bad in ["0a66c2", "#0a66c", "#ggg", "red", "#0a66c2ff", "#"] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn bad_values_are_named_by_field() {
        let mut c = minimal();
        c.branding = Some(BrandingConfig {
            product_name: Some(" ".into()),
            primary_color: Some("blue".into()),
            support_url: Some(Url::parse("http://help.example.com").expect("url")),
            logo: Some("data:text/html;base64,PGgxPg==".into()),
            ..BrandingConfig::default()
        });
        c.clients[0].branding = Some(BrandingConfig {
            primary_color: Some("#12345".into()),
            templates_dir: Some("/t".into()),
            ..BrandingConfig::default()
        });
        assert_eq!(
            invalid_fields(&c),
            [
                "branding.productName",
                "branding.primaryColor",
                "branding.supportUrl",
                "branding.logo",
                "clients[0].branding.primaryColor",
                "clients[0].branding.templatesDir",
            ]
        );
    }

    #[test]
    fn a_good_branding_passes_and_a_client_overrides_field_by_field() {
        let mut c = minimal();
        let server = BrandingConfig {
            product_name: Some("Acme Home".into()),
            primary_color: Some("#c2410c".into()),
            logo: Some("data:image/png;base64,iVBORw0KGgo=".into()),
            privacy_url: Some(Url::parse("https://acme.example/privacy").expect("url")),
            ..BrandingConfig::default()
        };
        let client = BrandingConfig {
            primary_color: Some("#123".into()),
            ..BrandingConfig::default()
        };
        c.branding = Some(server.clone());
        c.clients[0].branding = Some(client.clone());
        assert_eq!(c.validate(), Ok(()));
        let merged = server.merged(&client);
        assert_eq!(merged.primary_color.as_deref(), Some("#123"));
        assert_eq!(merged.product_name.as_deref(), Some("Acme Home"));
        assert!(!merged.is_empty());
        assert!(BrandingConfig::default().is_empty());
    }

    #[test]
    fn an_oversized_data_url_logo_is_refused() {
        let big = format!("data:image/png;base64,{}", "A".repeat(MAX_LOGO_BYTES * 2));
        assert!(
            check_logo_data_url(&big)
                .expect_err("too big")
                .contains("larger")
        );
    }
}
