//! Driver errors as spark-ds errors, classified from the driver's typed variants and the
//! server's numeric error codes (never from message text).

use mongodb::error::{Error as DriverError, ErrorKind as DriverKind, WriteFailure};
use spark_ds_core::{Error, ErrorKind};

use crate::SYSTEM;

/// Server error codes the connector branches on (MongoDB's `error_codes.yml`).
pub mod code {
    pub const BAD_VALUE: i32 = 2;
    pub const FAILED_TO_PARSE: i32 = 9;
    pub const UNAUTHORIZED: i32 = 13;
    pub const AUTHENTICATION_FAILED: i32 = 18;
    pub const NAMESPACE_NOT_FOUND: i32 = 26;
    pub const CURSOR_NOT_FOUND: i32 = 43;
    pub const NAMESPACE_EXISTS: i32 = 48;
    pub const MAX_TIME_MS_EXPIRED: i32 = 50;
    pub const COMMAND_NOT_FOUND: i32 = 59;
    pub const COMMAND_NOT_SUPPORTED: i32 = 115;
    pub const CURSOR_KILLED: i32 = 237;
    pub const NOT_IMPLEMENTED: i32 = 238;
    pub const LOCATION_UNRECOGNIZED_STAGE: i32 = 40324;
    pub const DUPLICATE_KEY: i32 = 11000;
    pub const REQUEST_RATE_TOO_LARGE: i32 = 16500;
    /// Codes of a server that is restarting, stepping down or unreachable: worth a retry.
    pub const TRANSIENT: &[i32] = &[
        6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 63, 150, 46841,
    ];
    /// Codes of a command or stage the server does not have.
    pub const UNSUPPORTED: &[i32] = &[
        COMMAND_NOT_FOUND,
        COMMAND_NOT_SUPPORTED,
        NOT_IMPLEMENTED,
        LOCATION_UNRECOGNIZED_STAGE,
        40415,
        // "$changeStream is only supported on replica sets" (a standalone mongod).
        40573,
    ];
}

/// The server's error code, when the error carries one.
pub fn server_code(e: &DriverError) -> Option<i32> {
    match e.kind.as_ref() {
        DriverKind::Command(c) => Some(c.code),
        DriverKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        DriverKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        DriverKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .and_then(|es| es.first())
            .map(|w| w.code)
            .or(m.write_concern_error.as_ref().map(|w| w.code)),
        _ => None,
    }
}

/// Whether the server refused the command or stage because it does not have it.
pub fn is_unsupported(e: &DriverError) -> bool {
    server_code(e).is_some_and(|c| code::UNSUPPORTED.contains(&c))
}

/// The spark-ds kind of a driver error.
pub fn kind_of(e: &DriverError) -> ErrorKind {
    if e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError") {
        return ErrorKind::Transient;
    }
    match e.kind.as_ref() {
        DriverKind::Authentication { .. } => ErrorKind::Auth,
        DriverKind::InvalidArgument { .. } | DriverKind::InvalidTlsConfig { .. } => {
            ErrorKind::Config
        }
        DriverKind::Io(_)
        | DriverKind::ConnectionPoolCleared { .. }
        | DriverKind::ServerSelection { .. }
        | DriverKind::DnsResolve { .. }
        | DriverKind::Shutdown => ErrorKind::Transient,
        DriverKind::BsonDeserialization(_) | DriverKind::BsonSerialization(_) => ErrorKind::Data,
        DriverKind::Internal { .. } => ErrorKind::Internal,
        _ => match server_code(e) {
            Some(c) => code_kind(c),
            None => ErrorKind::Permanent,
        },
    }
}

/// The spark-ds kind of a server error code.
pub fn code_kind(c: i32) -> ErrorKind {
    match c {
        code::AUTHENTICATION_FAILED | code::UNAUTHORIZED => ErrorKind::Auth,
        code::NAMESPACE_NOT_FOUND => ErrorKind::NotFound,
        code::NAMESPACE_EXISTS => ErrorKind::AlreadyExists,
        code::REQUEST_RATE_TOO_LARGE => ErrorKind::RateLimited { retry_after: None },
        c if code::TRANSIENT.contains(&c) => ErrorKind::Transient,
        code::BAD_VALUE | code::FAILED_TO_PARSE | code::DUPLICATE_KEY => ErrorKind::Permanent,
        _ => ErrorKind::Permanent,
    }
}

/// A driver error as a spark-ds error for `operation` on `object` (a namespace or host
/// list), the driver's error kept as the source.
pub fn driver(operation: &str, object: &str, e: DriverError) -> Error {
    let kind = kind_of(&e);
    let hint = match server_code(&e) {
        Some(code::UNAUTHORIZED) => {
            ": the server wants a login this connection lacks (give `username`/`password`, the URI's credentials or their environment variables), or the user lacks a role for this"
        }
        _ if kind == ErrorKind::Auth => {
            ": check the user name, password and `authSource` (the database the user is defined in)"
        }
        _ if is_unsupported(&e) => ": the server does not support this command or stage",
        _ => "",
    };
    // The kind's text only: the driver's full Display adds labels and the raw server reply.
    let text = e.kind.to_string();
    Error::new(kind, SYSTEM, operation, format!("{object}: {text}{hint}")).with_source(e)
}

/// Whether a driver error means no server could be reached at all (wrong host or port, or
/// the server is down): while the user waits on planning, this ends retries at once.
pub fn is_unreachable(e: &DriverError) -> bool {
    matches!(e.kind.as_ref(), DriverKind::ServerSelection { .. })
}

/// The spark-ds error's source as a driver error, if it is one.
pub fn as_driver(e: &Error) -> Option<&DriverError> {
    std::error::Error::source(e)?.downcast_ref::<DriverError>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_decide_kinds() {
        assert_eq!(code_kind(26), ErrorKind::NotFound);
        assert_eq!(code_kind(48), ErrorKind::AlreadyExists);
        assert_eq!(code_kind(18), ErrorKind::Auth);
        assert_eq!(code_kind(91), ErrorKind::Transient);
        assert_eq!(code_kind(11000), ErrorKind::Permanent);
        assert!(code_kind(16500).is_retryable());
    }
}
