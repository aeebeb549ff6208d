//! The address a request is counted under by the throttles: the TCP peer,
//! or with `loginProtection.trustForwardedFor` the last `X-Forwarded-For`
//! entry (the one our own proxy appended; earlier ones are client-supplied);
//! and the subscriber an address belongs to.

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

/// The subscriber an address belongs to, for counting: IPv4 as is
/// (IPv4-mapped IPv6 too), IPv6 by its /64 prefix (one subscriber's usual
/// allocation, so rotating through one's own addresses changes nothing).
pub fn subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}
