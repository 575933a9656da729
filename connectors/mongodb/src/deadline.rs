//! One command's reply, awaited for at most `requestTimeoutMs`.
//!
//! The driver has no socket timeout: a server that takes a command and never answers
//! would hold a task forever. A command cut here fails as transient, so the retry policy
//! (and a reader's resume) treat it like a cut connection. Dropping the driver's future
//! closes the connection it was using, so no late reply is read as another's.

use std::future::Future;
use std::time::Duration;

use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// `reply` if it comes within `limit`; otherwise a transient error naming `object` (the
/// namespace) and the option that sets the limit.
pub async fn within<T>(
    limit: Duration,
    operation: &str,
    object: &str,
    reply: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, reply).await {
        Ok(result) => result,
        Err(_) => Err(Error::transient(
            SYSTEM,
            operation,
            format!(
                "{object}: no reply from the server within {} ms (option `requestTimeoutMs`)",
                limit.as_millis()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_late_reply_is_a_transient_error_naming_the_option() {
        let late = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(1)
        };
        let e = within(Duration::from_millis(50), "read", "db.coll", late)
            .await
            .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(
            e.message(),
            "db.coll: no reply from the server within 50 ms (option `requestTimeoutMs`)"
        );
    }

    #[tokio::test]
    async fn a_reply_in_time_is_passed_on_errors_included() {
        assert_eq!(
            within(Duration::from_secs(1), "read", "x", async { Ok(7) })
                .await
                .unwrap(),
            7
        );
        let refused = async { Err::<(), _>(Error::config(SYSTEM, "bad")) };
        let e = within(Duration::from_secs(1), "read", "x", refused)
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
    }
}
