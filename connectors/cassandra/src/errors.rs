//! Driver errors as spark-ds errors, classified from the driver's typed variants (never
//! from message text): the database's error code, the I/O error kind under a broken or
//! refused connection, and the TLS error under a failed handshake.

use std::io;

use rustls::AlertDescription;
use scylla::errors::{
    BrokenConnectionError, BrokenConnectionErrorKind, ConnectionError, ConnectionPoolError,
    ConnectionSetupRequestErrorKind, DbError, ExecutionError, FrameHeaderParseError, MetadataError,
    NewSessionError, PrepareError, RequestAttemptError, UseKeyspaceError,
};
use spark_ds_core::{Error, ErrorKind};

use crate::SYSTEM;

/// What a failed connection attempt says about its cause, for the hint users read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// Nothing listens there: almost always a wrong host or port.
    Refused,
    /// The host name resolves to nothing.
    Unresolvable,
    /// Credentials were refused.
    Credentials,
    /// The server requires a login and none was given.
    CredentialsMissing,
    /// The server requires a client certificate and none was presented.
    ClientCertRequired,
    /// The server's certificate is not trusted (CA or name).
    ServerCertUntrusted,
    /// The server ended the TLS handshake with an alert.
    HandshakeRefused,
    /// Anything else; the kind alone decides.
    Other,
}

/// The kind and cause of a driver error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified {
    pub kind: ErrorKind,
    pub cause: Cause,
}

impl Classified {
    fn of(kind: ErrorKind) -> Self {
        Classified {
            kind,
            cause: Cause::Other,
        }
    }
}

pub fn db_kind(db: &DbError) -> ErrorKind {
    match db {
        DbError::AuthenticationError | DbError::Unauthorized => ErrorKind::Auth,
        DbError::AlreadyExists { .. } => ErrorKind::AlreadyExists,
        DbError::Unavailable { .. }
        | DbError::Overloaded
        | DbError::IsBootstrapping
        | DbError::ReadTimeout { .. }
        | DbError::WriteTimeout { .. }
        | DbError::TruncateError
        | DbError::RateLimitReached { .. }
        | DbError::ServerError
        | DbError::ReadFailure { .. }
        | DbError::WriteFailure { .. } => ErrorKind::Transient,
        _ => ErrorKind::Permanent,
    }
}

fn db(db: &DbError) -> Classified {
    let kind = db_kind(db);
    Classified {
        kind,
        cause: if kind == ErrorKind::Auth {
            Cause::Credentials
        } else {
            Cause::Other
        },
    }
}

/// An I/O error: a TLS failure wrapped in it, else its kind.
pub fn io(e: &io::Error) -> Classified {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        return tls_error(tls);
    }
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Classified {
            kind: ErrorKind::Transient,
            cause: Cause::Refused,
        },
        _ => Classified::of(ErrorKind::Transient),
    }
}

/// A failed TLS handshake: retrying cannot fix a certificate either side refuses.
fn tls_error(e: &rustls::Error) -> Classified {
    let cause = match e {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            Cause::ClientCertRequired
        }
        rustls::Error::InvalidCertificate(_) => Cause::ServerCertUntrusted,
        rustls::Error::AlertReceived(_) => Cause::HandshakeRefused,
        _ => return Classified::of(ErrorKind::Transient),
    };
    Classified {
        kind: ErrorKind::Auth,
        cause,
    }
}

fn broken(e: &BrokenConnectionError) -> Classified {
    match e.downcast_ref::<BrokenConnectionErrorKind>() {
        Some(BrokenConnectionErrorKind::FrameHeaderParseError(
            FrameHeaderParseError::HeaderIoError(e),
        ))
        | Some(BrokenConnectionErrorKind::WriteError(e)) => io(e),
        _ => Classified::of(ErrorKind::Transient),
    }
}

pub fn connection(e: &ConnectionError) -> Classified {
    match e {
        ConnectionError::IoError(e) => io(e),
        ConnectionError::BrokenConnection(e) => broken(e),
        ConnectionError::ConnectionSetupRequestError(setup) => match &setup.error {
            ConnectionSetupRequestErrorKind::DbError(e, _) => db(e),
            ConnectionSetupRequestErrorKind::BrokenConnection(e) => broken(e),
            // Asking again without credentials cannot succeed.
            ConnectionSetupRequestErrorKind::MissingAuthentication => Classified {
                kind: ErrorKind::Auth,
                cause: Cause::CredentialsMissing,
            },
            _ => Classified::of(ErrorKind::Transient),
        },
        ConnectionError::UseKeyspaceError(e) => use_keyspace(e),
        _ => Classified::of(ErrorKind::Transient),
    }
}

fn pool(e: &ConnectionPoolError) -> Classified {
    match e {
        ConnectionPoolError::Broken {
            last_connection_error,
        } => connection(last_connection_error),
        ConnectionPoolError::NodeDisabledByHostFilter => Classified::of(ErrorKind::Config),
        _ => Classified::of(ErrorKind::Transient),
    }
}

pub fn attempt(e: &RequestAttemptError) -> Classified {
    match e {
        RequestAttemptError::DbError(e, _) => db(e),
        RequestAttemptError::BrokenConnectionError(e) => broken(e),
        RequestAttemptError::SerializationError(_)
        | RequestAttemptError::CqlRequestSerialization(_) => Classified::of(ErrorKind::Data),
        _ => Classified::of(ErrorKind::Transient),
    }
}

fn use_keyspace(e: &UseKeyspaceError) -> Classified {
    match e {
        UseKeyspaceError::RequestError(e) => attempt(e),
        UseKeyspaceError::RequestTimeout(_) => Classified::of(ErrorKind::Transient),
        _ => Classified::of(ErrorKind::Permanent),
    }
}

fn metadata(e: &MetadataError) -> Classified {
    match e {
        MetadataError::ConnectionPoolError(e) => pool(e),
        // A fetch of the schema tables failed: a node in trouble, worth another try.
        MetadataError::FetchError(_) => Classified::of(ErrorKind::Transient),
        _ => Classified::of(ErrorKind::Permanent),
    }
}

pub fn new_session(e: &NewSessionError) -> Classified {
    match e {
        NewSessionError::FailedToResolveAnyHostname(_) => Classified {
            kind: ErrorKind::Config,
            cause: Cause::Unresolvable,
        },
        NewSessionError::EmptyKnownNodesList | NewSessionError::IllegalConfig(_) => {
            Classified::of(ErrorKind::Config)
        }
        NewSessionError::MetadataError(e) => metadata(e),
        NewSessionError::UseKeyspaceError(e) => use_keyspace(e),
        _ => Classified::of(ErrorKind::Transient),
    }
}

pub fn prepare(e: &PrepareError) -> Classified {
    match e {
        PrepareError::ConnectionPoolError(e) => pool(e),
        PrepareError::AllAttemptsFailed { first_attempt } => attempt(first_attempt),
        _ => Classified::of(ErrorKind::Permanent),
    }
}

pub fn execution(e: &ExecutionError) -> Classified {
    match e {
        ExecutionError::LastAttemptError(e) => attempt(e),
        ExecutionError::BadQuery(_) => Classified::of(ErrorKind::Data),
        ExecutionError::RequestTimeout(_) | ExecutionError::EmptyPlan => {
            Classified::of(ErrorKind::Transient)
        }
        ExecutionError::ConnectionPoolError(e) => pool(e),
        ExecutionError::PrepareError(e) => prepare(e),
        ExecutionError::UseKeyspaceError(e) => use_keyspace(e),
        ExecutionError::MetadataError(e) => metadata(e),
        _ => Classified::of(ErrorKind::Transient),
    }
}

/// A request error as a spark-ds error of the right kind, keeping the driver's error.
pub fn execution_error(op: &str, e: &ExecutionError) -> Error {
    Error::new(execution(e).kind, SYSTEM, op, e.to_string()).with_source(e.clone())
}

/// A prepare error as a spark-ds error of the right kind, naming the statement.
pub fn prepare_error(op: &str, statement: &str, e: &PrepareError) -> Error {
    Error::new(
        prepare(e).kind,
        SYSTEM,
        op,
        format!("{e} (statement: {statement})"),
    )
    .with_source(e.clone())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn io_err(kind: io::ErrorKind) -> ConnectionError {
        ConnectionError::IoError(Arc::new(io::Error::new(kind, "x")))
    }

    #[test]
    fn refused_connections_are_transient_and_say_so() {
        let c = connection(&io_err(io::ErrorKind::ConnectionRefused));
        assert_eq!(c.kind, ErrorKind::Transient);
        assert_eq!(c.cause, Cause::Refused);
        let reset = connection(&io_err(io::ErrorKind::ConnectionReset));
        assert_eq!(
            (reset.kind, reset.cause),
            (ErrorKind::Transient, Cause::Other)
        );
    }

    #[test]
    fn tls_failures_are_auth_errors_with_their_cause() {
        let tls = |e: rustls::Error| {
            connection(&ConnectionError::IoError(Arc::new(io::Error::new(
                io::ErrorKind::InvalidData,
                e,
            ))))
        };
        let required = tls(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired,
        ));
        assert_eq!(
            (required.kind, required.cause),
            (ErrorKind::Auth, Cause::ClientCertRequired)
        );
        let untrusted = tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert_eq!(untrusted.cause, Cause::ServerCertUntrusted);
        let refused = tls(rustls::Error::AlertReceived(
            AlertDescription::InternalError,
        ));
        assert_eq!(refused.cause, Cause::HandshakeRefused);
    }

    #[test]
    fn database_codes_decide_the_kind() {
        assert_eq!(db_kind(&DbError::AuthenticationError), ErrorKind::Auth);
        assert_eq!(db_kind(&DbError::Overloaded), ErrorKind::Transient);
        assert_eq!(db_kind(&DbError::SyntaxError), ErrorKind::Permanent);
        assert_eq!(
            db_kind(&DbError::AlreadyExists {
                keyspace: "k".into(),
                table: "t".into()
            }),
            ErrorKind::AlreadyExists
        );
        let e = ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::Invalid,
            "bad".into(),
        ));
        assert_eq!(execution(&e).kind, ErrorKind::Permanent);
    }

    #[test]
    fn unresolvable_hosts_are_config_errors() {
        let c = new_session(&NewSessionError::FailedToResolveAnyHostname(vec![
            "nohost".into(),
        ]));
        assert_eq!((c.kind, c.cause), (ErrorKind::Config, Cause::Unresolvable));
    }

    #[test]
    fn the_driver_error_is_kept_as_the_source() {
        let e = execution_error("read", &ExecutionError::EmptyPlan);
        let source = std::error::Error::source(&e).expect("source");
        assert!(source.downcast_ref::<ExecutionError>().is_some());
    }
}
