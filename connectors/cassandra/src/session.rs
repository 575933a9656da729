//! Sessions: one per process and connection identity (core's client cache), TLS through
//! core's rustls configuration, credentials, and the mapping of driver errors to spark-ds
//! error kinds.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::policies::load_balancing::DefaultPolicy;
use spark_ds_core::auth::{EnvCredentials, ExplicitCredentials, FileCredentials};
use spark_ds_core::redact;
use spark_ds_core::tls::{self, TlsFiles};
use spark_ds_core::{
    AuthChain, ClientCache, Credentials, Error, ErrorKind, Resolved, Result, Secret,
};

use crate::SYSTEM;
use crate::options::{Config, consistency};

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
            cfg.username.clone(),
            cfg.password.clone(),
        ))
        .with(EnvCredentials::username_password(
            USERNAME_ENV,
            PASSWORD_ENV,
        ))
        .with(FileCredentials::username_password(
            cfg.secrets_file.clone(),
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
        cfg.hosts,
        cfg.port,
        cfg.local_dc,
        creds.as_ref().map(|(u, _)| u),
        cfg.ssl,
        cfg.ssl_ca_cert,
        cfg.ssl_client_cert,
        cfg.ssl_client_key,
        cfg.ssl_verify_hostname,
        cfg.connect_timeout.as_millis(),
        cfg.request_timeout.as_millis(),
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
    cfg.hosts
        .iter()
        .map(|h| {
            let bare_ipv6 = h.matches(':').count() > 1 && !h.starts_with('[');
            if bare_ipv6 {
                format!("[{h}]:{}", cfg.port)
            } else if h.contains(':') {
                h.clone()
            } else {
                format!("{h}:{}", cfg.port)
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
        .consistency(consistency(&cfg.consistency))
        .request_timeout(Some(cfg.request_timeout))
        .load_balancing_policy(policy.build())
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&nodes)
        .connection_timeout(cfg.connect_timeout)
        .default_execution_profile_handle(profile.into_handle());
    // Schema metadata of the one keyspace in use: a cluster with many keyspaces otherwise
    // makes every new session (one per Python worker) fetch all of them.
    if let Some(ks) = &cfg.keyspace {
        builder = builder.keyspaces_to_fetch([ks.clone()]);
    }
    if let Some((user, password)) = &creds {
        builder = builder.user(user.clone(), password.expose().to_string());
    }
    if cfg.ssl {
        builder = builder.tls_context(Some(tls_config(cfg)?));
    }
    let started = std::time::Instant::now();
    // The driver's own timeouts apply per connection; this bounds the whole start.
    let budget = cfg.connect_timeout + cfg.connect_timeout / 2 + std::time::Duration::from_secs(1);
    let result = tokio::time::timeout(budget, builder.build()).await;
    let what = format!("{} (port {})", cfg.hosts.join(","), cfg.port);
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
            let msg = e.to_string();
            let refusal = tls_refusal(&msg, cfg.ssl_client_cert.is_some()).filter(|_| cfg.ssl);
            let (kind, hint) = match refusal {
                // Retrying cannot fix a certificate either side refuses.
                Some(hint) => (ErrorKind::Auth, hint),
                None => match classify_text(&msg, ErrorKind::Transient) {
                    ErrorKind::Auth => (ErrorKind::Auth, " (check `username`/`password`)"),
                    kind if cfg.ssl => (
                        kind,
                        " (TLS is on: check `sslCaCert`, `sslClientCert`, `sslVerifyHostname`)",
                    ),
                    kind => (kind, ""),
                },
            };
            Err(Error::new(
                kind,
                SYSTEM,
                "connect",
                format!(
                    "cannot connect to {what} after {} ms: {msg}{hint}",
                    started.elapsed().as_millis()
                ),
            ))
        }
        Ok(Ok(s)) => {
            log::info!(target: "spark_ds::cassandra", "connected to {what} in {} ms", started.elapsed().as_millis());
            Ok(s)
        }
    }
}

/// The TLS files and checks the options ask for.
fn tls_files(cfg: &Config) -> TlsFiles {
    TlsFiles {
        ca_file: cfg.ssl_ca_cert.clone(),
        client_cert: cfg.ssl_client_cert.clone(),
        client_key: cfg.ssl_client_key.clone(),
        verify_hostname: cfg.ssl_verify_hostname,
    }
}

/// The rustls client configuration (core's: aws-lc provider, installed explicitly).
pub fn tls_config(cfg: &Config) -> Result<Arc<rustls::ClientConfig>> {
    tls::client_config(SYSTEM, &tls_files(cfg))
}

/// What to fix when a TLS handshake failed on a certificate (`None` for other failures).
/// Servers differ in the alert they send for a client certificate they do not trust (Java
/// sends `InternalError`), so any fatal alert after presenting one points at it.
fn tls_refusal(msg: &str, presented_client_cert: bool) -> Option<&'static str> {
    let m = msg.to_ascii_lowercase();
    if m.contains("fatal alert: certificaterequired") {
        Some(" (the server requires a client certificate: set `sslClientCert` and `sslClientKey`)")
    } else if m.contains("invalid peer certificate") {
        Some(
            " (the server's certificate is not trusted: check `sslCaCert` and `sslVerifyHostname`)",
        )
    } else if m.contains("received fatal alert") && presented_client_cert {
        Some(
            " (the server refused the client certificate `sslClientCert`: is it signed by a CA the server trusts?)",
        )
    } else if m.contains("received fatal alert") {
        Some(" (the server refused the TLS handshake: check its TLS settings and `sslCaCert`)")
    } else {
        None
    }
}

/// Error kind from a driver message, when no typed information is at hand.
pub fn classify_text(msg: &str, otherwise: ErrorKind) -> ErrorKind {
    let m = msg.to_ascii_lowercase();
    if m.contains("authentication")
        || m.contains("bad credentials")
        || m.contains("provided username")
        || m.contains("unauthorized")
        || m.contains("authenticator")
    {
        ErrorKind::Auth
    } else if m.contains("timed out")
        || m.contains("timeout")
        || m.contains("connection refused")
        || m.contains("connection reset")
        || m.contains("broken")
        || m.contains("unavailable")
        || m.contains("overloaded")
        || m.contains("bootstrapping")
        || m.contains("could not connect")
        || m.contains("connection pool")
        || m.contains("io error")
    {
        ErrorKind::Transient
    } else if m.contains("syntax")
        || m.contains("invalid")
        || m.contains("undefined column")
        || m.contains("unconfigured table")
        || m.contains("does not exist")
    {
        ErrorKind::Permanent
    } else {
        otherwise
    }
}

fn db_kind(db: &DbError) -> ErrorKind {
    match db {
        DbError::AuthenticationError | DbError::Unauthorized => ErrorKind::Auth,
        DbError::Unavailable { .. }
        | DbError::Overloaded
        | DbError::IsBootstrapping
        | DbError::ReadTimeout { .. }
        | DbError::WriteTimeout { .. }
        | DbError::TruncateError
        | DbError::RateLimitReached { .. } => ErrorKind::Transient,
        DbError::ServerError | DbError::ReadFailure { .. } | DbError::WriteFailure { .. } => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Permanent,
    }
}

/// A request error as a spark-ds error of the right kind.
pub fn execution_error(op: &str, e: &ExecutionError) -> Error {
    let kind = match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => db_kind(db),
        ExecutionError::BadQuery(_) => ErrorKind::Data,
        ExecutionError::RequestTimeout(_)
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::EmptyPlan => ErrorKind::Transient,
        ExecutionError::LastAttemptError(_) => ErrorKind::Transient,
        ExecutionError::PrepareError(p) => classify_text(&p.to_string(), ErrorKind::Permanent),
        _ => classify_text(&e.to_string(), ErrorKind::Permanent),
    };
    Error::new(kind, SYSTEM, op, e.to_string())
}

/// A prepare error as a spark-ds error of the right kind.
pub fn prepare_error(op: &str, statement: &str, e: &scylla::errors::PrepareError) -> Error {
    let msg = e.to_string();
    Error::new(
        classify_text(&msg, ErrorKind::Permanent),
        SYSTEM,
        op,
        format!("{msg} (statement: {statement})"),
    )
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

    #[test]
    fn tls_refusals_name_the_option_to_fix() {
        let alert = |a: &str| format!("Failed to read the frame header: received fatal alert: {a}");
        let hint = |m: &str, cert| tls_refusal(m, cert).unwrap_or_default();
        assert!(hint(&alert("CertificateRequired"), false).contains("set `sslClientCert`"));
        assert!(hint(&alert("InternalError"), true).contains("refused the client certificate"));
        assert!(hint(&alert("BadCertificate"), true).contains("refused the client certificate"));
        assert!(hint(&alert("HandshakeFailure"), false).contains("refused the TLS handshake"));
        assert!(
            hint("invalid peer certificate: UnknownIssuer", false).contains("check `sslCaCert`")
        );
        assert_eq!(tls_refusal("Connection refused (os error 111)", true), None);
    }

    #[test]
    fn classification() {
        assert_eq!(
            classify_text(
                "Authentication failed: Provided username x and/or password are incorrect",
                ErrorKind::Internal
            ),
            ErrorKind::Auth
        );
        assert_eq!(
            classify_text("Connection refused (os error 111)", ErrorKind::Internal),
            ErrorKind::Transient
        );
        assert_eq!(
            classify_text("line 1:5 syntax error", ErrorKind::Internal),
            ErrorKind::Permanent
        );
    }
}
