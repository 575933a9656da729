//! Sessions: one per process and connection identity (core's client cache), TLS through
//! core's rustls configuration, credentials, and the mapping of driver errors to spark-ds
//! error kinds.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::NewSessionError;
use scylla::policies::load_balancing::DefaultPolicy;
use spark_ds_core::redact;
use spark_ds_core::tls;
use spark_ds_core::{ClientCache, Error, ErrorKind, Result, Secret};

use crate::SYSTEM;
use crate::errors::{self, Cause};
use crate::options::Config;
use crate::tls_probe;

/// Environment variables of the credential chain.
pub const USERNAME_ENV: &str = "SPARK_DS_CASSANDRA_USERNAME";
pub const PASSWORD_ENV: &str = "SPARK_DS_CASSANDRA_PASSWORD";

/// Sessions of this process; the cache adds the pid to the key.
static SESSIONS: ClientCache<Session> = ClientCache::new();

/// Username and password through the core auth chain: options, then the environment,
/// then the secrets file. `None` (anonymous) when no source has any.
pub async fn credentials(cfg: &Config) -> Result<Option<(String, Secret)>> {
    // Names users read in every message stay readable even when the password equals one.
    redact::register_public(SYSTEM);
    for name in [&cfg.keyspace, &cfg.table].into_iter().flatten() {
        redact::register_public(name);
    }
    spark_ds_core::auth::username_password(SYSTEM, &cfg.credentials, (USERNAME_ENV, PASSWORD_ENV))
        .await
}

/// The cache key: everything that makes a different connection, the password only as a
/// hash (the cache adds the pid: sessions belong to the per-process runtime).
fn identity(cfg: &Config, creds: &Option<(String, Secret)>) -> String {
    let mut h = DefaultHasher::new();
    if let Some((_, p)) = creds {
        p.expose().hash(&mut h);
    }
    format!(
        "{:?}|{:?}|{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}|{}|{}|{:x}",
        cfg.keyspace,
        cfg.endpoint.hosts,
        cfg.endpoint.port,
        cfg.local_dc,
        creds.as_ref().map(|(u, _)| u),
        cfg.tls.ssl,
        cfg.tls.ssl_ca_cert,
        cfg.tls.ssl_client_cert,
        cfg.tls.ssl_client_key,
        cfg.tls.ssl_verify_hostname,
        cfg.timeouts.connect_timeout.as_millis(),
        cfg.timeouts.request_timeout.as_millis(),
        h.finish()
    )
}

/// The session for this configuration, connected on first use and shared by the tasks of
/// this process.
pub async fn session(cfg: &Config) -> Result<Arc<Session>> {
    let creds = credentials(cfg).await?;
    let key = identity(cfg, &creds);
    // A session is never judged dead by its connections: the driver reconnects its pools
    // itself, and through a short outage the retried requests of a kept session succeed
    // where a fresh connect would fail the same way. Only fatal errors evict it (below).
    let session = SESSIONS
        .get_or_create(&key, |_| true, || connect(cfg, creds))
        .await?;
    check_local_dc(cfg, datacenters(&session))?;
    Ok(session)
}

/// The datacenters the cluster's nodes report, sorted.
fn datacenters(session: &Session) -> Vec<String> {
    let state = session.get_cluster_state();
    let mut dcs: Vec<String> = state
        .get_nodes_info()
        .iter()
        .filter_map(|n| n.datacenter.clone())
        .collect();
    dcs.sort();
    dcs.dedup();
    dcs
}

/// A `localDC` no node belongs to would silently send every request to another
/// datacenter (the policy falls back): refuse it, naming the ones that exist.
fn check_local_dc(cfg: &Config, datacenters: Vec<String>) -> Result<()> {
    match &cfg.local_dc {
        Some(dc) if !datacenters.is_empty() && !datacenters.contains(dc) => Err(Error::config(
            SYSTEM,
            format!(
                "option `localDC`: no node belongs to datacenter `{dc}`; the cluster's datacenters: {}",
                datacenters
                    .iter()
                    .map(|d| format!("`{d}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// Drops `session` from the cache after an error it cannot recover from (the server
/// refused its credentials), so the next task connects afresh.
pub fn evict_if_fatal(session: &Arc<Session>, error: &Error) {
    if error.kind() == ErrorKind::Auth && SESSIONS.evict(session) {
        log::info!(target: "spark_ds::cassandra", "session dropped after: {}", error.message());
    }
}

fn contact_points(cfg: &Config) -> Vec<String> {
    cfg.endpoint
        .hosts
        .iter()
        .map(|h| {
            let bare_ipv6 = h.matches(':').count() > 1 && !h.starts_with('[');
            if bare_ipv6 {
                format!("[{h}]:{}", cfg.endpoint.port)
            } else if h.contains(':') {
                h.clone()
            } else {
                format!("{h}:{}", cfg.endpoint.port)
            }
        })
        .collect()
}

async fn connect(cfg: &Config, creds: Option<(String, Secret)>) -> Result<Session> {
    let nodes = contact_points(cfg);
    let mut policy = DefaultPolicy::builder()
        .token_aware(true)
        .permit_dc_failover(true);
    if let Some(dc) = &cfg.local_dc {
        policy = policy.prefer_datacenter(dc.clone());
    }
    let profile = ExecutionProfile::builder()
        .consistency(cfg.consistency.to_driver())
        .request_timeout(Some(cfg.timeouts.request_timeout))
        .load_balancing_policy(policy.build())
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&nodes)
        .connection_timeout(cfg.timeouts.connect_timeout)
        .default_execution_profile_handle(profile.into_handle());
    // Schema metadata of the one keyspace in use: a cluster with many keyspaces otherwise
    // makes every new session (one per Python worker) fetch all of them.
    if let Some(ks) = &cfg.keyspace {
        builder = builder.keyspaces_to_fetch([ks.clone()]);
    }
    if let Some((user, password)) = &creds {
        builder = builder.user(user.clone(), password.expose().to_string());
    }
    if cfg.tls.ssl {
        builder = builder.tls_context(Some(tls_config(cfg)?));
    }
    let started = std::time::Instant::now();
    // The driver's timeout covers only each TCP connect; a server that accepts and never
    // answers would hold the handshake forever. The option bounds the whole start.
    let bound = cfg.timeouts.connect_timeout;
    let result = tokio::time::timeout(bound, builder.build()).await;
    let what = nodes.join(", ");
    match result {
        Err(_) => Err(Error::transient(
            SYSTEM,
            "connect",
            format!(
                "could not connect to {what} within {} ms (option `connectTimeoutMs`, which bounds the whole session start: TCP connect, handshake and schema read)",
                bound.as_millis()
            ),
        )),
        Ok(Err(e)) => {
            let mut classified = errors::new_session(&e);
            if cfg.tls.ssl && classified.cause == Cause::Other {
                // The driver may have lost the server's TLS alert: ask the first node again.
                let left = bound.saturating_sub(started.elapsed());
                if let Some(node) = nodes.first()
                    && let Some(found) = tls_probe::tls_failure(node, tls_config(cfg)?, left).await
                {
                    classified = found;
                }
            }
            if classified.cause == Cause::Refused && all_refuse(&nodes, bound).await {
                return Err(Error::new(
                    classified.kind,
                    SYSTEM,
                    "connect",
                    format!(
                        "every contact point refused the connection ({what}): nothing listens there, so option `host` or `port` is probably wrong. \
                         While planning (load(), save(), schema()) this is not retried; inside tasks, where a restarting node is the likely cause, \
                         it is retried up to `retryMaxAttempts` times within `retryMaxElapsedMs`. Driver error: {e}"
                    ),
                )
                .with_source(RefusedEverywhere(e)));
            }
            Err(Error::new(
                classified.kind,
                SYSTEM,
                "connect",
                format!(
                    "cannot connect to {what} after {} ms: {e}{}",
                    started.elapsed().as_millis(),
                    connect_hint(cfg, classified.cause)
                ),
            )
            .with_source(e))
        }
        Ok(Ok(s)) => {
            log::info!(target: "spark_ds::cassandra", "connected to {what} in {} ms", started.elapsed().as_millis());
            Ok(s)
        }
    }
}

/// A session start that failed because every contact point refused the connection.
#[derive(Debug)]
pub struct RefusedEverywhere(NewSessionError);

impl std::fmt::Display for RefusedEverywhere {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "every contact point refused the connection: {}", self.0)
    }
}

impl std::error::Error for RefusedEverywhere {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Whether `error` is a session start that every contact point refused: at planning, where
/// the user waits, that is a wrong host or port, not worth the retry budget.
pub fn refused_everywhere(error: &Error) -> bool {
    std::error::Error::source(error).is_some_and(|s| s.is::<RefusedEverywhere>())
}

/// Whether every contact point refuses a TCP connection now. The driver reports only the
/// last node's error, so one refusal says nothing of the other contact points.
async fn all_refuse(nodes: &[String], bound: std::time::Duration) -> bool {
    for node in nodes {
        let probe = tokio::time::timeout(bound, tokio::net::TcpStream::connect(node.as_str()));
        match probe.await {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            _ => return false,
        }
    }
    !nodes.is_empty()
}

/// The rustls client configuration (core's: aws-lc provider, installed explicitly).
pub fn tls_config(cfg: &Config) -> Result<Arc<rustls::ClientConfig>> {
    tls::client_config(SYSTEM, &cfg.tls.files())
}

/// What to fix, by the cause of a failed connection.
fn connect_hint(cfg: &Config, cause: Cause) -> &'static str {
    match cause {
        Cause::ClientCertRequired => {
            " (the server requires a client certificate: set `sslClientCert` and `sslClientKey`)"
        }
        Cause::ServerCertUntrusted => {
            " (the server's certificate is not trusted: check `sslCaCert` and `sslVerifyHostname`)"
        }
        // Servers differ in the alert they send for a client certificate they do not trust
        // (Java sends `InternalError`), so any alert after presenting one points at it.
        Cause::HandshakeRefused if cfg.tls.ssl_client_cert.is_some() => {
            " (the server refused the client certificate `sslClientCert`: is it signed by a CA the server trusts?)"
        }
        Cause::HandshakeRefused => {
            " (the server refused the TLS handshake: check its TLS settings and `sslCaCert`)"
        }
        Cause::Credentials => " (check `username`/`password`)",
        Cause::CredentialsMissing => {
            " (the server requires a login and none was given: set `username` and `password`, \
             SPARK_DS_CASSANDRA_USERNAME and SPARK_DS_CASSANDRA_PASSWORD, or `secretsFile`)"
        }
        Cause::Unresolvable => " (check option `host`: the name does not resolve)",
        _ if cfg.tls.ssl => " (TLS is on: check `sslCaCert`, `sslClientCert`, `sslVerifyHostname`)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn contact_points_add_the_port() {
        let c = cfg(&[("host", "a,b:9999,::1,[::2]:7"), ("port", "9142")]);
        assert_eq!(
            contact_points(&c),
            vec!["a:9142", "b:9999", "[::1]:9142", "[::2]:7"]
        );
    }

    #[test]
    fn an_unknown_local_dc_names_the_datacenters() {
        let dcs = || vec!["dc1".to_string(), "dc2".to_string()];
        let c = cfg(&[("localDC", "nowhere")]);
        let e = check_local_dc(&c, dcs()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("`localDC`")
                && e.message().contains("`nowhere`")
                && e.message().contains("`dc1`, `dc2`"),
            "{}",
            e.message()
        );
        assert!(check_local_dc(&cfg(&[("localDC", "dc2")]), dcs()).is_ok());
        assert!(check_local_dc(&cfg(&[]), dcs()).is_ok());
        // Nodes that report no datacenter give nothing to check against.
        assert!(check_local_dc(&c, vec![]).is_ok());
    }

    #[test]
    fn refused_everywhere_is_recognised_through_the_source() {
        let e = Error::transient(SYSTEM, "connect", "x")
            .with_source(RefusedEverywhere(NewSessionError::EmptyKnownNodesList));
        assert!(refused_everywhere(&e));
        let other = Error::transient(SYSTEM, "connect", "x")
            .with_source(NewSessionError::EmptyKnownNodesList);
        assert!(!refused_everywhere(&other));
        assert!(!refused_everywhere(&Error::transient(
            SYSTEM, "connect", "x"
        )));
    }

    #[tokio::test]
    async fn all_refuse_only_when_every_contact_point_does() {
        let open = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open_addr = open.local_addr().unwrap().to_string();
        let closed_addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let bound = std::time::Duration::from_secs(2);
        assert!(all_refuse(std::slice::from_ref(&closed_addr), bound).await);
        assert!(!all_refuse(&[closed_addr, open_addr], bound).await);
        assert!(!all_refuse(&[], bound).await);
    }

    #[test]
    fn identity_differs_by_password_without_showing_it() {
        let a = cfg(&[("username", "u"), ("password", "first-password")]);
        let b = cfg(&[("username", "u"), ("password", "other-password")]);
        let creds = |c: &Config| spark_ds_core::runtime::block_on(credentials(c)).unwrap();
        let ia = identity(&a, &creds(&a).unwrap());
        let ib = identity(&b, &creds(&b).unwrap());
        assert_ne!(ia, ib);
        assert!(!ia.contains("first-password"));
        // The pid is added by the cache: core's `clients` tests prove it is in the key.
    }

    #[test]
    fn credentials_come_from_options_then_the_secrets_file() {
        let creds = |c: &Config| spark_ds_core::runtime::block_on(credentials(c)).unwrap();
        let dir = std::env::temp_dir().join(format!("sdc-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("s.json");
        std::fs::write(&json, r#"{"username": "app", "password": "pw-from-json"}"#).unwrap();
        let c = cfg(&[("secretsFile", json.to_str().unwrap())]);
        let (u, p) = creds(&c).unwrap().unwrap();
        assert_eq!((u.as_str(), p.expose()), ("app", "pw-from-json"));
        let c = cfg(&[
            ("username", "opt"),
            ("password", "pw-from-options"),
            ("secretsFile", json.to_str().unwrap()),
        ]);
        assert_eq!(creds(&c).unwrap().unwrap().0, "opt");
    }

    #[test]
    fn tls_config_builds_and_reports_bad_files() {
        let c = cfg(&[("ssl", "true")]);
        assert!(tls_config(&c).is_ok());
        let c = cfg(&[("ssl", "true"), ("sslCaCert", "/nonexistent/ca.pem")]);
        let e = tls_config(&c).unwrap_err();
        assert!(e.message().contains("sslCaCert"), "{}", e.message());
    }
}
