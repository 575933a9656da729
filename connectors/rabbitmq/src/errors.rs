//! Client errors as spark-ds errors, classified from lapin's typed variants and the
//! broker's AMQP reply codes (never from message text).

use lapin::ErrorKind as ClientKind;
use spark_ds_core::{Error, ErrorKind};

use crate::SYSTEM;

/// AMQP 0-9-1 reply codes the connector branches on.
pub mod code {
    pub const CONNECTION_FORCED: u16 = 320;
    pub const NO_ROUTE: u16 = 312;
    pub const ACCESS_REFUSED: u16 = 403;
    pub const NOT_FOUND: u16 = 404;
    pub const RESOURCE_LOCKED: u16 = 405;
    pub const PRECONDITION_FAILED: u16 = 406;
    pub const INVALID_PATH: u16 = 402;
    pub const NOT_ALLOWED: u16 = 530;
    pub const RESOURCE_ERROR: u16 = 506;
    pub const INTERNAL_ERROR: u16 = 541;
}

/// The broker's reply code, when the error carries one.
pub fn reply_code(e: &lapin::Error) -> Option<u16> {
    match e.kind() {
        ClientKind::ProtocolError(amqp) => Some(amqp.get_id()),
        _ => None,
    }
}

/// The spark-ds kind of a client error.
pub fn kind_of(e: &lapin::Error) -> ErrorKind {
    match e.kind() {
        ClientKind::IOError(_)
        | ClientKind::MissingHeartbeatError
        | ClientKind::InvalidConnectionState(_)
        | ClientKind::InvalidChannelState(..)
        | ClientKind::RuntimeShutdownError(_) => ErrorKind::Transient,
        ClientKind::AuthProviderError(_) => ErrorKind::Auth,
        ClientKind::ProtocolError(amqp) => match amqp.get_id() {
            code::ACCESS_REFUSED => ErrorKind::Auth,
            code::NOT_FOUND => ErrorKind::NotFound,
            code::INVALID_PATH | code::PRECONDITION_FAILED | code::NOT_ALLOWED => ErrorKind::Config,
            code::CONNECTION_FORCED | code::RESOURCE_ERROR | code::RESOURCE_LOCKED => {
                ErrorKind::Transient
            }
            _ => ErrorKind::Permanent,
        },
        _ => ErrorKind::Internal,
    }
}

/// A client error while doing `operation` on `object` (a queue, an exchange, the broker).
pub fn client(operation: &str, object: &str, e: lapin::Error) -> Error {
    let kind = kind_of(&e);
    let what = match (e.kind(), kind) {
        (ClientKind::ProtocolError(amqp), _) => format!(
            "the broker refused it with {} {}",
            amqp.get_id(),
            amqp.get_message().as_str()
        ),
        (_, ErrorKind::Transient) => format!("the connection failed: {e}"),
        _ => e.to_string(),
    };
    let hint = match kind {
        ErrorKind::Auth => "; check the user, its password and its permissions on the virtual host",
        ErrorKind::NotFound => "; check the name and the virtual host, or declare it first",
        ErrorKind::Transient => "; the broker may be restarting or unreachable",
        _ => "",
    };
    Error::new(
        kind,
        SYSTEM,
        operation,
        format!("{operation} {object}: {what}{hint}"),
    )
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPSoftError};

    fn refused(soft: AMQPSoftError) -> lapin::Error {
        ClientKind::ProtocolError(AMQPError::new(
            AMQPErrorKind::Soft(soft),
            "NOT_FOUND - no queue 'q' in vhost '/'".into(),
        ))
        .into()
    }

    #[test]
    fn classified_by_reply_code() {
        assert_eq!(
            kind_of(&refused(AMQPSoftError::NOTFOUND)),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind_of(&refused(AMQPSoftError::ACCESSREFUSED)),
            ErrorKind::Auth
        );
        assert_eq!(
            kind_of(&refused(AMQPSoftError::PRECONDITIONFAILED)),
            ErrorKind::Config
        );
        let io: lapin::Error = std::io::Error::from(std::io::ErrorKind::ConnectionReset).into();
        assert_eq!(kind_of(&io), ErrorKind::Transient);
        let e = client("consume", "queue `q`", refused(AMQPSoftError::NOTFOUND));
        assert!(e.message().contains("404"), "{}", e.message());
        assert!(e.message().contains("queue `q`"), "{}", e.message());
    }
}
