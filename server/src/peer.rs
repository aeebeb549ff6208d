//! The address a request is counted under by the throttles: the TCP peer,
//! or with `loginProtection.trustForwardedFor` the last `X-Forwarded-For`
//! entry (the one our own proxy appended; earlier ones are client-supplied).

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::app::AppState;

/// The client address of a request, if known.
pub fn client_ip(app: &AppState, extensions: &Extensions, headers: &HeaderMap) -> Option<IpAddr> {
    if app.config.login_protection.trust_forwarded_for
        && let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
