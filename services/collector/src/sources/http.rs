//! HTTP plumbing shared by the polling sources: one client per source,
//! bodies read whole, and every transport failure mapped to an [`ErrorKind`].

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use super::Failure;
use crate::metrics::ErrorKind;

/// `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("weibostream-collector/", env!("CARGO_PKG_VERSION"));

/// A client whose requests time out after `timeout` (`None`: streams, which
/// rely on an idle timeout instead).
pub fn client(
    timeout: Option<Duration>,
    connect_timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(connect_timeout);
    if let Some(timeout) = timeout {
        builder = builder.timeout(timeout);
    }
    builder
        .build()
        .map_err(|error| format!("cannot build an HTTP client: {error}"))
}

/// A whole response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// Sends `request` and reads the whole body; `what` names it in messages.
pub async fn fetch(request: RequestBuilder, what: &str) -> Result<Response, Failure> {
    let response = request
        .send()
        .await
        .map_err(|error| transport(&error, what))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|error| transport(&error, what))?;
    Ok(Response {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// A failure for a transport error: timeout, connection, cut-short body.
pub fn transport(error: &reqwest::Error, what: &str) -> Failure {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connection
    };
    Failure::new(kind, format!("{what}: {}", chain(error)))
}

/// An error with its sources, `: `-separated (reqwest hides the cause otherwise).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The body as JSON, or an `invalid_json` failure saying where it broke.
pub fn json(body: &[u8], what: &str) -> Result<Value, Failure> {
    serde_json::from_slice(body).map_err(|error| {
        let kind = if error.is_eof() {
            "truncated JSON"
        } else {
            "invalid JSON"
        };
        Failure::new(
            ErrorKind::InvalidJson,
            format!("{what}: {kind} in a {}-byte body: {error}", body.len()),
        )
    })
}

/// A failure for an unexpected HTTP status (not 401 and not a rate limit).
pub fn status_failure(status: StatusCode, body: &[u8], what: &str) -> Failure {
    let kind = if status.is_server_error() {
        ErrorKind::Http5xx
    } else {
        ErrorKind::Http4xx
    };
    let excerpt: String = String::from_utf8_lossy(body).chars().take(200).collect();
    Failure::new(kind, format!("{what}: HTTP {status}: {}", excerpt.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_failures_say_truncated_or_invalid() {
        let failure = json(b"[{\"id\":", "x").unwrap_err();
        assert_eq!(failure.kind, ErrorKind::InvalidJson);
        assert!(
            failure.message.contains("truncated JSON"),
            "{}",
            failure.message
        );
        let failure = json(b"<html>", "x").unwrap_err();
        assert!(
            failure.message.contains("invalid JSON"),
            "{}",
            failure.message
        );
        let failure = status_failure(StatusCode::BAD_GATEWAY, b"oops", "x");
        assert_eq!(
            (failure.kind, failure.message.as_str()),
            (ErrorKind::Http5xx, "x: HTTP 502 Bad Gateway: oops")
        );
    }
}
