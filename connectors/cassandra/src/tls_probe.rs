//! Asks a node once more why a TLS session start failed.
//!
//! With TLS 1.3 a server checks the client certificate after the client thinks the handshake
//! is done, and its alert arrives on the next read. The driver's connection task can lose
//! that alert in a race (it reports a dropped channel instead), which would leave the user
//! with "connection broken" for what is a refused certificate. One direct handshake with
//! the same client configuration, then a read, gets the alert.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::errors::{self, Classified};

/// How long a server that refuses the client certificate takes to say so, at most.
const ALERT_WAIT: Duration = Duration::from_secs(2);

/// The TLS failure `node` (`host:port`) reports for `config`, if the probe sees one within
/// `bound`; None when the handshake and a request succeed or the probe learns nothing.
pub async fn tls_failure(
    node: &str,
    config: Arc<rustls::ClientConfig>,
    bound: Duration,
) -> Option<Classified> {
    tokio::time::timeout(bound, probe(node, config))
        .await
        .ok()
        .flatten()
}

async fn probe(node: &str, config: Arc<rustls::ClientConfig>) -> Option<Classified> {
    let address = tokio::net::lookup_host(node).await.ok()?.next()?;
    let tcp = TcpStream::connect(address).await.ok()?;
    let name = ServerName::IpAddress(address.ip().into());
    let tls_failure = |e: std::io::Error| {
        let classified = errors::io(&e);
        (classified.cause != errors::Cause::Other).then_some(classified)
    };
    let mut stream = match TlsConnector::from(config).connect(name, tcp).await {
        Ok(stream) => stream,
        Err(e) => return tls_failure(e),
    };
    // Read before sending anything: a server that refuses the client certificate sends its
    // alert now and closes; a request written first could meet a reset that discards the
    // alert. A server that accepted waits for a request, so the read times out.
    let mut byte = [0u8; 1];
    match tokio::time::timeout(ALERT_WAIT, stream.read(&mut byte)).await {
        Ok(Err(e)) => tls_failure(e),
        _ => None,
    }
}
