//! Answers of outbound HTTP calls (Login with Amazon, the upstream OpenID
//! Provider), read with a size limit: a hostile or broken endpoint cannot
//! make us buffer an unbounded body.

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
