//! Connections: one per process and connection identity (core's client cache), built from
//! the AMQP URI or `host`/`port`/`vhost`, credentials through core's auth chain, TLS
//! through core's rustls configuration (certificate verification on by default).
//!
//! lapin's own reconnection is left off on purpose: a recovered stream consumer would start
//! again from the offset it was opened with and replay what the task already read. A task
//! whose connection drops fails, and Spark's retry reads its exact range again.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use async_rs::Runtime;
use async_rs::traits::{Reactor, RuntimeKit};
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::tcp::{AsyncTcpStream, RustlsConnector};
use lapin::types::{FieldTable, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{Channel, Connection, ConnectionProperties, Consumer};
use rustls::ClientConfig;
use spark_ds_core::{ClientCache, Error, ErrorKind, Result, Secret, redact};
use tokio::time::error::Elapsed;

use crate::SYSTEM;
use crate::errors;
use crate::options::Config;

/// Environment variables of the credential chain.
pub const USERNAME_ENV: &str = "SPARK_DS_RABBITMQ_USERNAME";
pub const PASSWORD_ENV: &str = "SPARK_DS_RABBITMQ_PASSWORD";

/// Connections of this process; the cache adds the pid to the key.
static CONNECTIONS: ClientCache<Connection> = ClientCache::new();

/// Username and password through the core auth chain: options, then the environment,
/// then the secrets file. `None` when no source has any (the URI may still carry some).
async fn credentials(cfg: &Config) -> Result<Option<(String, Secret)>> {
    redact::register_public(SYSTEM);
    if let Some(queue) = &cfg.queue {
        redact::register_public(queue);
    }
    spark_ds_core::auth::username_password(SYSTEM, &cfg.credentials, (USERNAME_ENV, PASSWORD_ENV))
        .await
}

/// Whether the URI names a user (`amqp://user[:password]@host`): lapin fills in
/// `guest` otherwise, which must not hide credentials given as options.
fn uri_has_userinfo(uri: &str) -> bool {
    uri.split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(""))
        .is_some_and(|authority| authority.contains('@'))
}

/// The broker's address and login, from the URI or the options.
async fn amqp_uri(cfg: &Config) -> Result<AMQPUri> {
    let creds = credentials(cfg).await?;
    let mut uri = match &cfg.uri {
        Some(text) => {
            let parsed: AMQPUri = text.expose().parse().map_err(|e: String| {
                Error::config(
                    SYSTEM,
                    format!("option `uri` is not a valid AMQP URI (amqp://user:password@host:port/vhost): {e}"),
                )
            })?;
            if creds.is_some() && uri_has_userinfo(text.expose()) {
                return Err(Error::config(
                    SYSTEM,
                    "credentials are given twice: in option `uri` and as `username`/`password` (or their environment variables or `secretsFile`); give them once",
                ));
            }
            parsed
        }
        None => {
            let host = cfg.endpoint.hosts.first().cloned().unwrap_or_default();
            let (host, port) = match host.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| {
                        Error::config(
                            SYSTEM,
                            format!("option `host`: `{host}` has a port that is not a number"),
                        )
                    })?,
                ),
                None => (host, cfg.endpoint.port),
            };
            let mut uri = AMQPUri::default();
            uri.authority.host = host;
            uri.authority.port = port;
            uri.vhost = cfg.vhost().to_string();
            if cfg.tls.ssl {
                uri.scheme = AMQPScheme::AMQPS;
            }
            uri
        }
    };
    if let Some((username, password)) = creds {
        uri.authority.userinfo.username = username;
        uri.authority.userinfo.password = password.expose().to_string();
    }
    if let Some(heartbeat) = cfg.heartbeat {
        // The option's range (0–65535) fits a u16.
        uri.query.heartbeat = Some(heartbeat as u16);
    }
    redact::register_secret(&uri.authority.userinfo.password);
    Ok(uri)
}

/// Where the connection goes, for messages: host, port and vhost, never the password.
pub fn endpoint_label(uri: &AMQPUri) -> String {
    format!(
        "{}:{} (vhost `{}`)",
        uri.authority.host, uri.authority.port, uri.vhost
    )
}

/// The cache key: everything that makes a different connection; secrets only as a hash.
fn identity(cfg: &Config, uri: &AMQPUri) -> String {
    let mut h = DefaultHasher::new();
    uri.authority.userinfo.password.hash(&mut h);
    format!(
        "{:?}|{}|{}|{}|{}|{:?}|{:?}|{:?}|{}|{}|{:x}",
        uri.scheme,
        uri.authority.host,
        uri.authority.port,
        uri.vhost,
        uri.authority.userinfo.username,
        cfg.tls.ssl_ca_cert,
        cfg.tls.ssl_client_cert,
        cfg.tls.ssl_client_key,
        cfg.tls.ssl_verify_hostname,
        cfg.timeouts.connect_timeout.as_millis(),
        h.finish()
    )
}

/// The connection for this configuration, opened on first use and shared by the tasks of
/// this process (each task opens its own channels on it).
pub async fn connection(cfg: &Config) -> Result<Arc<Connection>> {
    let uri = amqp_uri(cfg).await?;
    let key = identity(cfg, &uri);
    CONNECTIONS
        .get_or_create(&key, |c| c.status().connected(), || connect(cfg, uri))
        .await
}

/// Drops `connection` from the cache after an error a new connection may not have, so the
/// next task connects afresh.
pub fn evict_if_broken(connection: &Arc<Connection>, error: &Error) {
    let broken = matches!(error.kind(), ErrorKind::Auth | ErrorKind::Transient)
        || !connection.status().connected();
    if broken && CONNECTIONS.evict(connection) {
        log::info!(target: "spark_ds::rabbitmq", "connection dropped after: {}", error.message());
    }
}

/// A new channel on the process's connection; a dead connection is replaced once.
pub async fn channel(cfg: &Config) -> Result<lapin::Channel> {
    let conn = connection(cfg).await?;
    match conn.create_channel().await {
        Ok(ch) => Ok(ch),
        Err(e) => {
            let error = errors::client("open a channel on", "the broker", e);
            evict_if_broken(&conn, &error);
            let conn = connection(cfg).await?;
            conn.create_channel()
                .await
                .map_err(|e| errors::client("open a channel on", "the broker", e))
        }
    }
}

async fn connect(cfg: &Config, uri: AMQPUri) -> Result<Connection> {
    let label = endpoint_label(&uri);
    let tls = match uri.scheme {
        AMQPScheme::AMQPS => Some(spark_ds_core::tls::client_config(SYSTEM, &cfg.tls.files())?),
        AMQPScheme::AMQP => None,
    };
    let runtime = async_rs::Runtime::tokio_current();
    let properties = ConnectionProperties::default()
        .with_connection_name(format!("spark-ds-rabbitmq pid {}", std::process::id()).into());
    let connecting = Connection::connector(
        uri,
        runtime,
        move |uri, runtime| {
            let tls = tls.clone();
            async move { open_socket(uri, runtime, tls).await }
        },
        properties,
    );
    match tokio::time::timeout(cfg.timeouts.connect_timeout, connecting).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(e)) => Err(errors::client("connect to", &label, e)),
        Err(_) => Err(Error::transient(
            SYSTEM,
            "connect",
            format!(
                "connect to {label}: no answer within {} ms (option `connectTimeoutMs`); check that the broker runs and the port is reachable",
                cfg.timeouts.connect_timeout.as_millis()
            ),
        )),
    }
}

/// The socket of a connection: plain TCP, or TLS with core's rustls configuration.
async fn open_socket<RK: RuntimeKit + Send + Sync + 'static>(
    uri: AMQPUri,
    runtime: Runtime<RK>,
    tls: Option<Arc<ClientConfig>>,
) -> lapin::Result<AsyncTcpStream<<RK as Reactor>::TcpStream>> {
    let host = uri.authority.host.clone();
    let addrs = runtime.to_socket_addrs((host.clone(), uri.authority.port));
    let stream = AsyncTcpStream::connect(&runtime, addrs).await?;
    match tls {
        None => Ok(stream),
        Some(config) => Ok(stream
            .into_rustls(&RustlsConnector::from(config), &host)
            .await?),
    }
}

/// A consumer of `queue` with `arguments`, on a channel of its own that holds at most
/// `prefetchCount` unacknowledged deliveries (`basic.qos`, which stream queues require).
pub async fn consume(
    cfg: &Config,
    queue: &str,
    arguments: FieldTable,
) -> Result<(Channel, Consumer)> {
    let object = format!("queue `{queue}`");
    let channel = channel(cfg).await?;
    // The option's range (1–65535) fits a u16.
    channel
        .basic_qos(cfg.prefetch_count as u16, BasicQosOptions::default())
        .await
        .map_err(|e| errors::client("set the prefetch of", &object, e))?;
    let consumer = channel
        .basic_consume(
            ShortString::from(queue),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            arguments,
        )
        .await
        .map_err(|e| errors::client("consume", &object, e))?;
    Ok((channel, consumer))
}

/// Cancels a consumer and closes its channel. Errors here lose nothing: what it had not
/// acknowledged goes back to the queue.
pub async fn stop_consuming(channel: &Channel, consumer: &Consumer) {
    let _ = channel
        .basic_cancel(consumer.tag(), BasicCancelOptions::default())
        .await;
    let _ = channel.close(200, ShortString::from("done")).await;
}

/// How long a consumer that finds no delivery waiting lets several accumulate.
const BATCHING_PAUSE: Duration = Duration::from_millis(1);

/// The consumer's next item, or `Err` when none comes within `wait`.
///
/// A delivery already received is taken without a timer (most are, while a queue is read
/// in bulk). When none is, a short pause lets several arrive instead of the client's I/O
/// thread waking this task for each one: a thread switch per message was a third of the
/// CPU of a bulk read.
pub async fn next_within(
    consumer: &mut Consumer,
    wait: Duration,
) -> std::result::Result<Option<lapin::Result<Delivery>>, Elapsed> {
    if let Some(item) = consumer.next().now_or_never() {
        return Ok(item);
    }
    if wait > BATCHING_PAUSE {
        tokio::time::sleep(BATCHING_PAUSE).await;
        if let Some(item) = consumer.next().now_or_never() {
            return Ok(item);
        }
    }
    tokio::time::timeout(wait.saturating_sub(BATCHING_PAUSE), consumer.next()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_seen_only_in_the_authority() {
        assert!(uri_has_userinfo("amqp://u:p@h:5672/v"));
        assert!(uri_has_userinfo("amqps://u@h"));
        assert!(!uri_has_userinfo("amqp://h:5672/v@x"));
        assert!(!uri_has_userinfo("amqp://h?x=a@b"));
    }
}
