//! One error type for every connector.
//!
//! The kind decides retryability, so retry and circuit-breaker logic never parse strings;
//! the system and operation say where it happened; every message passes through
//! [`crate::redact`] so secrets never reach a log, an exception or a query plan.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::redact::redact;

/// What went wrong, in the terms a retry policy and a user need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An option or argument is wrong; retrying cannot help.
    Config,
    /// Credentials were missing or refused.
    Auth,
    /// A failure that may pass: connection reset, timeout, node restarting.
    Transient,
    /// The server asked us to slow down, perhaps saying for how long.
    RateLimited { retry_after: Option<Duration> },
    /// The server refused the request for good: syntax, constraint, permission.
    Permanent,
    /// The object named (keyspace, table, collection, queue, topic, URL) does not exist.
    NotFound,
    /// The object to be created exists already.
    AlreadyExists,
    /// A value could not be converted between Arrow and the system's types.
    Data,
    /// A bug on our side, such as a panic caught at the Python boundary.
    Internal,
}

impl ErrorKind {
    /// Whether trying the same operation again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::RateLimited { .. })
    }

    /// The short name used as the exception class suffix and in task summaries.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Config => "config",
            ErrorKind::Auth => "auth",
            ErrorKind::Transient => "transient",
            ErrorKind::RateLimited { .. } => "rate-limited",
            ErrorKind::Permanent => "permanent",
            ErrorKind::NotFound => "not-found",
            ErrorKind::AlreadyExists => "already-exists",
            ErrorKind::Data => "data",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The underlying driver or I/O error, kept for `source()` (shared: errors are cloned).
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The error every spark-ds crate returns.
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    system: &'static str,
    operation: String,
    message: String,
    source: Option<Source>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error; the message is redacted here, once, so no later path can leak it.
    pub fn new(
        kind: ErrorKind,
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error {
            kind,
            system,
            operation: operation.into(),
            message: redact(message.as_ref()),
            source: None,
        }
    }

    /// The object named does not exist (the message names it and what to do).
    pub fn not_found(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::NotFound, system, operation, message)
    }

    /// The object to be created exists already.
    pub fn already_exists(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::AlreadyExists, system, operation, message)
    }

    /// The same error, keeping the driver's error as its `source()`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// A configuration error about one option.
    pub fn config(system: &'static str, message: impl AsRef<str>) -> Self {
        Error::new(ErrorKind::Config, system, "options", message)
    }

    pub fn auth(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::Auth, system, operation, message)
    }

    pub fn transient(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::Transient, system, operation, message)
    }

    pub fn permanent(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::Permanent, system, operation, message)
    }

    pub fn data(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::Data, system, operation, message)
    }

    pub fn internal(
        system: &'static str,
        operation: impl Into<String>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(ErrorKind::Internal, system, operation, message)
    }

    pub fn rate_limited(
        system: &'static str,
        operation: impl Into<String>,
        retry_after: Option<Duration>,
        message: impl AsRef<str>,
    ) -> Self {
        Error::new(
            ErrorKind::RateLimited { retry_after },
            system,
            operation,
            message,
        )
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn system(&self) -> &'static str {
        self.system
    }

    pub fn operation(&self) -> &str {
        &self.operation
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The same error with more context in front, e.g. the attempt count after retries.
    pub fn with_context(mut self, context: impl AsRef<str>) -> Self {
        self.message = redact(&format!("{}: {}", context.as_ref(), self.message));
        self
    }

    /// The same error, reclassified (e.g. a transient error that exhausted its retries).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.system, self.operation, self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_system_and_operation() {
        let e = Error::permanent("cassandra", "read ks.t", "table ks.t does not exist");
        assert_eq!(
            e.to_string(),
            "[cassandra] read ks.t: table ks.t does not exist"
        );
    }

    #[test]
    fn only_transient_and_rate_limited_are_retryable() {
        assert!(ErrorKind::Transient.is_retryable());
        assert!(ErrorKind::RateLimited { retry_after: None }.is_retryable());
        for k in [
            ErrorKind::Config,
            ErrorKind::Auth,
            ErrorKind::Permanent,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::Data,
            ErrorKind::Internal,
        ] {
            assert!(!k.is_retryable(), "{}", k.name());
        }
    }

    #[test]
    fn the_driver_error_stays_the_source() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::transient("cassandra", "connect", "cannot connect").with_source(io);
        let source = e.source().expect("a source");
        assert_eq!(source.to_string(), "refused");
        assert!(e.clone().source().is_some());
    }

    #[test]
    fn messages_are_redacted_on_construction() {
        let e = Error::transient(
            "mongodb",
            "connect",
            "mongodb://app:hunter2@db:27017 refused",
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = e.with_context("after 3 attempts with mongodb://x:pw@h");
        assert!(!e.to_string().contains(":pw@"), "{e}");
    }
}
