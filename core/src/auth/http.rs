//! The HTTP pieces token providers share: a client with short timeouts, token response
//! parsing, and mapping HTTP failures to error kinds.

use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::redact::Secret;

pub(super) const SYSTEM: &str = "auth";

pub(super) fn client(connect_timeout: Duration, timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| {
            Error::internal(
                SYSTEM,
                "http client",
                format!("cannot build an HTTP client: {e}"),
            )
        })
}

/// A token endpoint's success answer (RFC 6749 §5.1); Azure sends `expires_in` as a string.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// The token and its lifetime, if the endpoint said.
pub(super) fn parse_token(body: &str, operation: &str) -> Result<(Secret, Option<Duration>)> {
    let parsed: TokenResponse = serde_json::from_str(body).map_err(|e| {
        Error::auth(
            SYSTEM,
            operation,
            format!(
                "token response is not a token (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let lifetime = match parsed.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok((
        Secret::new(parsed.access_token),
        lifetime.map(Duration::from_secs),
    ))
}

/// An error for a failed request: unreachable or overloaded is transient, 429 is rate
/// limited, a refusal is auth, the OAuth2 `error`/`error_description` fields quoted.
pub(super) fn status_error(
    status: StatusCode,
    retry_after: Option<&str>,
    body: &str,
    operation: &str,
) -> Error {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    let detail = match serde_json::from_str::<OAuthError>(body) {
        Ok(e) => format!(
            ": {}{}",
            e.error,
            e.error_description
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
        Err(_) => String::new(),
    };
    let message = format!("HTTP {status}{detail}");
    match status.as_u16() {
        429 => {
            let wait = retry_after
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Error::rate_limited(SYSTEM, operation, wait, message)
        }
        408 | 500..=599 => Error::transient(SYSTEM, operation, message),
        _ => Error::auth(SYSTEM, operation, message),
    }
}

pub(super) fn send_error(e: &reqwest::Error, operation: &str) -> Error {
    Error::transient(SYSTEM, operation, format!("request failed: {e}"))
}
