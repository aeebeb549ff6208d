//! Value rules several sections share.

use url::Url;

/// Whether `url` names the loopback interface, where plain `http://` is
/// acceptable because nothing leaves the machine (RFC 8252 section 7.3).
pub(crate) fn url_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether `id` is a non-empty run of letters, digits, `-`, `_` and `.`
/// (ids that end up inside user ids and store keys).
pub(crate) fn is_simple_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
