//! Answers of outbound HTTP calls (Login with Amazon, the upstream OpenID
//! Provider), read with a size limit: a hostile or broken endpoint cannot
//! make us buffer an unbounded body.

use std::time::Duration;

/// The policy every server-side outbound client shares (Login with Amazon,
/// the Alexa API): bounded connect and total time, pooled connections, our
/// user agent, and no redirects, since a redirect would carry our client
/// secret, a code or a user's Amazon token to wherever it points (even
/// https to http).
pub fn client(builder: reqwest::ClientBuilder, timeout: Duration) -> reqwest::ClientBuilder {
    builder
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("alexa-link/", env!("CARGO_PKG_VERSION")))
}

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Longer than the limit (declared or actually sent).
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The connection failed while reading.
    #[error("failed to read the response: {0}")]
    Read(#[source] reqwest::Error),
}

/// The body of `response`, refused past `max` bytes.
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(e.without_url()))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
