//! Sessions: one per process and connection identity (core's client cache), TLS through
//! core's rustls configuration, credentials, and the mapping of driver errors to spark-ds
//! error kinds.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use spark_ds_core::auth::{EnvCredentials, ExplicitCredentials, FileCredentials};
use spark_ds_core::redact;
use spark_ds_core::tls;
use spark_ds_core::{
    AuthChain, ClientCache, Credentials, Error, ErrorKind, Resolved, Result, Secret,
};

use crate::SYSTEM;
use crate::errors::{self, Cause};
use crate::options::Config;

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
    let chain = AuthChain::new(SYSTEM)
        .with(ExplicitCredentials::username_password(
            cfg.credentials.username.clone(),
            cfg.credentials.password.clone(),
        ))
        .with(EnvCredentials::username_password(
            USERNAME_ENV,
            PASSWORD_ENV,
        ))
        .with(FileCredentials::username_password(
            cfg.credentials.secrets_file.clone(),
            "username",
            "password",
        ));
    match chain.resolve_optional().await? {
        None => Ok(None),
        Some(Resolved {
            credentials: Credentials::UsernamePassword { username, password },
            ..
        }) => Ok(Some((username, password))),
        Some(other) => Err(Error::internal(
            SYSTEM,
            "authenticate",
            format!("unexpected credentials from {}", other.provider),
        )),
    }
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
    SESSIONS
        .get_or_create(&key, |_| true, || connect(cfg, creds))
        .await
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
    // The driver's own timeouts apply per connection; this bounds the whole start.
    let budget = cfg.timeouts.connect_timeout
        + cfg.timeouts.connect_timeout / 2
        + std::time::Duration::from_secs(1);
    let result = tokio::time::timeout(budget, builder.build()).await;
    let what = format!(
        "{} (port {})",
        cfg.endpoint.hosts.join(","),
        cfg.endpoint.port
    );
    match result {
        Err(_) => Err(Error::transient(
            SYSTEM,
            "connect",
            format!(
                "could not connect to {what} within {} ms (option `connectTimeoutMs`)",
                budget.as_millis()
            ),
        )),
        Ok(Err(e)) => {
            let classified = errors::new_session(&e);
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
