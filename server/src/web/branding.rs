//! The configured branding, resolved at start: files read, checked and
//! turned into what a page needs (a data URL for the logo, a path on this
//! server for the extra style sheet). A missing or unusable file stops the
//! start, naming the config field.
//!
//! The logo is sent inline as a `data:` URL (at most 64 KiB), so a page
//! needs no second request and the CSP allows images from `data:` only. The
//! extra style sheet is served from this server under a name derived from
//! its content (`/branding/<sha256>.css`), cacheable for good, so the CSP
//! keeps allowing styles from this origin only.

use std::collections::HashMap;
use std::path::Path;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::config::branding::{
    MAX_EXTRA_CSS_BYTES, MAX_LOGO_BYTES, check_logo_data_url, logo_image_type,
};
use crate::config::{BrandingConfig, Config};
use crate::keyring::hex;

/// Where extra style sheets are served (`/branding/{file}`).
pub const STYLE_ROUTE: &str = "/branding/{file}";
const STYLE_PREFIX: &str = "/branding/";

/// The built-in primary color.
pub const DEFAULT_COLOR: &str = "#0a66c2";

/// What the templates see as `brand`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Brand {
    /// The product's name, if set.
    pub name: Option<String>,
    /// The logo as a `data:` URL, if set.
    pub logo: Option<String>,
    /// The primary color (`#rgb` or `#rrggbb`).
    pub color: String,
    /// Help page.
    pub support_url: Option<String>,
    /// Privacy policy.
    pub privacy_url: Option<String>,
    /// The extra style sheet's path on this server, if set.
    pub css: Option<String>,
}

/// A branding file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {message}")]
pub struct BrandingError {
    /// The config field, e.g. `clients[1].branding.logo`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The server's brand, each client's, and the style sheets they use.
#[derive(Debug)]
pub struct Brands {
    server: Brand,
    clients: HashMap<String, Brand>,
    styles: HashMap<String, Bytes>,
}

impl Brands {
    /// Reads every file the config's branding names.
    pub fn load(config: &Config) -> Result<Brands, BrandingError> {
        let base = config.branding.clone().unwrap_or_default();
        let mut styles = HashMap::new();
        let server = resolve(&base, "branding", &mut styles)?;
        let mut clients = HashMap::new();
        for (i, c) in config.clients.iter().enumerate() {
            if let Some(own) = &c.branding {
                let merged = base.merged(own);
                let brand = resolve(&merged, &format!("clients[{i}].branding"), &mut styles)?;
                clients.insert(c.client_id.clone(), brand);
            }
        }
        Ok(Brands {
            server,
            clients,
            styles,
        })
    }

    /// The server-wide brand.
    pub fn server(&self) -> &Brand {
        &self.server
    }

    /// A client's brand: its own over the server's, or the server's.
    pub fn client(&self, client_id: &str) -> &Brand {
        self.clients.get(client_id).unwrap_or(&self.server)
    }
}

fn resolve(
    b: &BrandingConfig,
    path: &str,
    styles: &mut HashMap<String, Bytes>,
) -> Result<Brand, BrandingError> {
    let err = |field: &str, message: String| BrandingError {
        field: format!("{path}.{field}"),
        message,
    };
    let logo = match &b.logo {
        None => None,
        Some(l) if l.starts_with("data:") => {
            let (_, payload) = check_logo_data_url(l).map_err(|m| err("logo", m))?;
            STANDARD
                .decode(payload)
                .map_err(|e| err("logo", format!("the data URL's payload is not base64: {e}")))?;
            Some(l.clone())
        }
        Some(file) => Some(logo_file(Path::new(file)).map_err(|m| err("logo", m))?),
    };
    let css = match &b.extra_css_file {
        None => None,
        Some(file) => {
            let text =
                read_limited(file, MAX_EXTRA_CSS_BYTES).map_err(|m| err("extraCssFile", m))?;
            std::str::from_utf8(&text).map_err(|_| {
                err(
                    "extraCssFile",
                    format!("{} is not UTF-8 text", file.display()),
                )
            })?;
            let name = format!("{}.css", hex(&Sha256::digest(&text)[..16]));
            let url = format!("{STYLE_PREFIX}{name}");
            styles.insert(name, Bytes::from(text));
            Some(url)
        }
    };
    Ok(Brand {
        name: b.product_name.clone(),
        logo,
        color: b
            .primary_color
            .clone()
            .unwrap_or_else(|| DEFAULT_COLOR.to_owned()),
        support_url: b.support_url.as_ref().map(|u| u.to_string()),
        privacy_url: b.privacy_url.as_ref().map(|u| u.to_string()),
        css,
    })
}

fn read_limited(path: &Path, limit: usize) -> Result<Vec<u8>, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("failed to read {}: {e}", path.display()))?;
    if bytes.len() > limit {
        return Err(format!(
            "{} holds {} bytes; at most {limit} are allowed",
            path.display(),
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// A logo file as a data URL; its type from its first bytes, not its name.
fn logo_file(path: &Path) -> Result<String, String> {
    let bytes = read_limited(path, MAX_LOGO_BYTES)?;
    let media = logo_image_type(&bytes).ok_or_else(|| {
        format!(
            "{} is not a PNG, JPEG, GIF, WebP or SVG image",
            path.display()
        )
    })?;
    Ok(format!("data:{media};base64,{}", STANDARD.encode(&bytes)))
}

/// `GET /branding/{file}`: an extra style sheet. Named by its content, so
/// it may be cached for good.
pub async fn style(State(app): State<AppState>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(css) = app.pages.brands().styles.get(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    crate::oauth::metadata::public_document(
        css.clone(),
        "text/css; charset=utf-8",
        "public, max-age=31536000, immutable",
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::branding::BrandingConfig;

    /// The smallest config the pages need; files are never read here.
    pub(crate) const MINIMAL: &str = r#"
server:
  publicUrl: https://link.example.com
  sessionKeyFile: /keys/session
clients:
  - clientId: alexa
    clientSecretFile: /secrets/alexa
identity:
  static:
    users: []
store:
  embedded:
    path: /data/store.redb
"#;

    fn config_with(b: BrandingConfig) -> Config {
        let mut c = Config::from_yaml(MINIMAL).expect("parses");
        c.branding = Some(b);
        c
    }

    #[test]
    fn files_become_a_data_url_and_a_served_style_sheet() {
        let dir = tempfile::tempdir().expect("dir");
        let logo = dir.path().join("logo.png");
        std::fs::write(&logo, b"\x89PNG\r\n\x1a\nrest").expect("write");
        let css = dir.path().join("extra.css");
        std::fs::write(&css, "h1 { letter-spacing: .02em }").expect("write");
        let brands = Brands::load(&config_with(BrandingConfig {
            product_name: Some("Acme".into()),
            logo: Some(logo.display().to_string()),
            extra_css_file: Some(css),
            ..BrandingConfig::default()
        }))
        .expect("loads");
        let b = brands.server();
        assert!(
            b.logo
                .as_deref()
                .expect("logo")
                .starts_with("data:image/png;base64,iVBORw0KGg")
        );
        let url = b.css.as_deref().expect("css");
        let name = url.strip_prefix(STYLE_PREFIX).expect("prefix");
        assert_eq!(&brands.styles[name][..], b"h1 { letter-spacing: .02em }");
        assert_eq!(b.color, DEFAULT_COLOR);
    }

    #[test]
    fn unusable_files_are_named_by_field() {
        let dir = tempfile::tempdir().expect("dir");
        let text = dir.path().join("logo.txt");
        std::fs::write(&text, "not an image").expect("write");
        let e = Brands::load(&config_with(BrandingConfig {
            logo: Some(text.display().to_string()),
            ..BrandingConfig::default()
        }))
        .expect_err("not an image");
        assert_eq!(e.field, "branding.logo");
        let e = Brands::load(&config_with(BrandingConfig {
            extra_css_file: Some(dir.path().join("missing.css")),
            ..BrandingConfig::default()
        }))
        .expect_err("missing");
        assert_eq!(e.field, "branding.extraCssFile");
        assert!(e.message.contains("missing.css"), "{e}");
    }
}
