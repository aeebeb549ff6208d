//! `alexa-link-server doctor`: checks a linking server the way Alexa will
//! use it, and says what to fix.
//!
//! Alexa reports a failed link to the user as one sentence ("We were unable
//! to link your account") and to the developer as nothing. The doctor makes
//! the calls Alexa makes, in the order it makes them: a TLS handshake as its
//! Java client ([`tls`]), the metadata, the authorize and token endpoints,
//! the console's redirect URLs, and with a test user a whole link, a refresh
//! and a retried refresh ([`link`]). Each check gets a verdict and a fix
//! ([`report`]). It never prints a secret it was given.

pub mod html;
pub mod link;
pub mod report;
pub mod tls;

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use url::Url;

pub use report::{Check, Report, Verdict};

/// Alexa gives the token endpoint this long before it gives up on a link.
pub const ALEXA_TOKEN_BUDGET: Duration = Duration::from_millis(4500);

/// An id and its secret (a client's, or a test user's).
#[derive(Clone)]
pub struct Credentials {
    /// Client id or user name.
    pub id: String,
    /// Client secret or password; never printed.
    pub secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What to check and with what.
#[derive(Debug, Clone)]
pub struct Options {
    /// The public URL Alexa is given (`https://link.example.com`).
    pub url: Url,
    /// Connect here instead of resolving the URL's host (a tunnel, a
    /// Service IP, a test); TLS and HTTP still use the host name.
    pub connect_to: Option<SocketAddr>,
    /// Roots to trust besides Mozilla's (a private CA under test). Alexa
    /// itself trusts only public roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// The Alexa client's credentials, as pasted into the console.
    pub client: Option<Credentials>,
    /// A test user who may log in.
    pub user: Option<Credentials>,
    /// The skill's vendor id: the three regional redirect URLs are checked.
    pub vendor_id: Option<String>,
    /// The redirect URI to link with (default: the NA one of `vendor_id`).
    pub redirect_uri: Option<String>,
    /// The scopes to ask for, space-separated, as in the console.
    pub scope: Option<String>,
    /// Whether the console's PKCE switch is on, when known.
    pub console_pkce: Option<bool>,
    /// Check the reciprocal (mutual linking) endpoint too.
    pub reciprocal: bool,
    /// The token endpoint's time budget ([`ALEXA_TOKEN_BUDGET`]).
    pub budget: Duration,
    /// How long any single call may take.
    pub timeout: Duration,
}

impl Options {
    /// Options for `url` with nothing else known.
    pub fn new(url: Url) -> Options {
        Options {
            url,
            connect_to: None,
            extra_roots: Vec::new(),
            client: None,
            user: None,
            vendor_id: None,
            redirect_uri: None,
            scope: None,
            console_pkce: None,
            reciprocal: false,
            budget: ALEXA_TOKEN_BUDGET,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Runs every check that the options allow.
pub async fn run(options: &Options) -> Report {
    let mut checks = Vec::new();
    let url = &options.url;
    let host = url.host_str().unwrap_or_default().to_owned();
    checks.push(port_check(url));
    let addr = match options.connect_to {
        Some(addr) => Some(addr),
        None => {
            let port = url.port_or_known_default().unwrap_or(443);
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(mut addrs) => addrs.next(),
                Err(_) => None,
            }
        }
    };
    let Some(addr) = addr else {
        checks.push(Check::fail(
            "dns",
            format!("{host} does not resolve"),
            "create the DNS record for the host (or pass --connect-to ADDR:PORT)",
        ));
        return Report::new(url.as_str(), checks);
    };
    if url.scheme() == "https" {
        checks.extend(
            tls::check(&tls::Target {
                host: &host,
                addr,
                extra_roots: &options.extra_roots,
                timeout: options.timeout,
            })
            .await,
        );
    }
    checks.extend(link::Probe::new(options, addr).run().await);
    Report::new(url.as_str(), checks)
}

/// Alexa calls account-linking URLs over HTTPS on port 443 only.
fn port_check(url: &Url) -> Check {
    match (url.scheme(), url.port_or_known_default()) {
        ("https", Some(443)) => Check::pass("tls.port", "https on port 443"),
        ("https", Some(port)) => Check::fail(
            "tls.port",
            format!("port {port}: Alexa calls account-linking URLs on 443 only"),
            "serve on 443 (a load balancer or ingress in front), and give Alexa URLs without a port",
        ),
        (scheme, _) => Check::fail(
            "tls.port",
            format!("{scheme}://: Alexa calls account-linking URLs over https only"),
            "put TLS in front (server.tls, an ingress, or a tunnel that ends TLS) and use https:// URLs",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_on_443_passes_the_port_check() {
        let check = |u: &str| port_check(&Url::parse(u).expect("url")).verdict;
        assert_eq!(check("https://link.example.com"), Verdict::Pass);
        assert_eq!(check("https://link.example.com:443/"), Verdict::Pass);
        assert_eq!(check("https://link.example.com:8443"), Verdict::Fail);
        assert_eq!(check("http://link.example.com"), Verdict::Fail);
    }

    #[test]
    fn credentials_never_print_their_secret() {
        let c = Credentials {
            id: "alexa".into(),
            secret: "s3cret".into(),
        };
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
