//! Clients: one per process and connection identity (core's client cache), built from the
//! connection string or `host`/`port`, credentials through core's auth chain, TLS with
//! certificate verification on by default.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use mongodb::Client;
use mongodb::bson::RawDocumentBuf;
use mongodb::options::{ClientOptions, Credential, ServerAddress, Tls, TlsOptions};
use spark_ds_core::{ClientCache, Error, ErrorKind, Result, Secret, redact};

use crate::SYSTEM;
use crate::errors;
use crate::options::Config;

/// Environment variables of the credential chain.
pub const USERNAME_ENV: &str = "SPARK_DS_MONGODB_USERNAME";
pub const PASSWORD_ENV: &str = "SPARK_DS_MONGODB_PASSWORD";

/// Clients of this process; the cache adds the pid to the key.
static CLIENTS: ClientCache<Client> = ClientCache::new();

/// Username and password through the core auth chain: options, then the environment,
/// then the secrets file. `None` when no source has any (the URI may still carry some).
pub async fn credentials(cfg: &Config) -> Result<Option<(String, Secret)>> {
    redact::register_public(SYSTEM);
    for name in [&cfg.database_option, &cfg.collection_option]
        .into_iter()
        .flatten()
    {
        redact::register_public(name);
    }
    spark_ds_core::auth::username_password(SYSTEM, &cfg.credentials, (USERNAME_ENV, PASSWORD_ENV))
        .await
}

/// The cache key: everything that makes a different connection; secrets only as a hash.
fn identity(cfg: &Config, creds: &Option<(String, Secret)>) -> String {
    let mut h = DefaultHasher::new();
    if let Some((_, p)) = creds {
        p.expose().hash(&mut h);
    }
    if let Some(uri) = &cfg.uri {
        uri.expose().hash(&mut h);
    }
    format!(
        "{:?}|{}|{:?}|{:?}|{}|{:?}|{:?}|{:?}|{}|{}|{}|{:x}",
        cfg.endpoint.hosts,
        cfg.endpoint.port,
        creds.as_ref().map(|(u, _)| u),
        cfg.auth_source,
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

/// Where the client connects, for messages: the hosts, never the URI (it may hold a password).
pub fn endpoint_label(cfg: &Config) -> String {
    if cfg.uri.is_some() {
        return "the hosts of option `connection.uri`".into();
    }
    cfg.endpoint
        .hosts
        .iter()
        .map(|h| {
            if h.contains(':') {
                h.clone()
            } else {
                format!("{h}:{}", cfg.endpoint.port)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The client for this configuration, created on first use and shared by the tasks of this
/// process. The driver keeps its own pool and reconnects by itself.
pub async fn client(cfg: &Config) -> Result<Arc<Client>> {
    let creds = credentials(cfg).await?;
    let key = identity(cfg, &creds);
    CLIENTS
        .get_or_create(&key, |_| true, || connect(cfg, creds))
        .await
}

/// Drops `client` from the cache after an error a new client may not have (refused
/// credentials), so the next task connects afresh.
pub fn evict_if_fatal(client: &Arc<Client>, error: &Error) {
    if error.kind() == ErrorKind::Auth && CLIENTS.evict(client) {
        log::info!(target: "spark_ds::mongodb", "client dropped after: {}", error.message());
    }
}

/// The collection to read or write, its documents kept raw (no decoding into `Document`).
pub async fn collection(cfg: &Config) -> Result<mongodb::Collection<RawDocumentBuf>> {
    let (database, collection) = (cfg.database()?, cfg.collection()?);
    let client = client(cfg).await?;
    Ok(client.database(database).collection(collection))
}

async fn client_options(cfg: &Config, creds: Option<(String, Secret)>) -> Result<ClientOptions> {
    let mut options = match &cfg.uri {
        Some(uri) => ClientOptions::parse(uri.expose()).await.map_err(|e| {
            Error::new(
                errors::kind_of(&e).max_config(),
                SYSTEM,
                "connect",
                format!("option `connection.uri` is not a valid MongoDB connection string: {e}"),
            )
            .with_source(e)
        })?,
        None => {
            let mut options = ClientOptions::default();
            options.hosts = cfg
                .endpoint
                .hosts
                .iter()
                .map(|h| server_address(h, cfg.endpoint.port))
                .collect::<Result<_>>()?;
            options
        }
    };
    if let Some((username, password)) = creds {
        if options
            .credential
            .as_ref()
            .is_some_and(|c| c.username.is_some())
        {
            return Err(Error::config(
                SYSTEM,
                "credentials are given twice: in option `connection.uri` and as `username`/`password` (or their environment variables or `secretsFile`); give them once",
            ));
        }
        let source = cfg
            .auth_source
            .clone()
            .or_else(|| options.credential.as_ref().and_then(|c| c.source.clone()))
            .unwrap_or_else(|| "admin".into());
        options.credential = Some(
            Credential::builder()
                .username(username)
                .password(password.expose().to_string())
                .source(source)
                .build(),
        );
    } else if let (Some(source), Some(credential)) = (&cfg.auth_source, options.credential.as_mut())
    {
        credential.source = Some(source.clone());
    }
    if cfg.tls.ssl || cfg.tls.ssl_ca_cert.is_some() {
        options.tls = Some(Tls::Enabled(tls_options(cfg)?));
    }
    options
        .app_name
        .get_or_insert_with(|| "spark-ds-mongodb".into());
    options
        .connect_timeout
        .get_or_insert(cfg.timeouts.connect_timeout);
    // A server nobody reaches fails within the connect timeout, not the driver's 30 s.
    options
        .server_selection_timeout
        .get_or_insert(cfg.timeouts.connect_timeout);
    Ok(options)
}

trait MaxConfig {
    fn max_config(self) -> ErrorKind;
}

impl MaxConfig for ErrorKind {
    /// A URI the driver rejects is the user's to fix, unless resolving it failed for a while.
    fn max_config(self) -> ErrorKind {
        match self {
            ErrorKind::Transient => ErrorKind::Transient,
            _ => ErrorKind::Config,
        }
    }
}

fn server_address(host: &str, port: u16) -> Result<ServerAddress> {
    let spec = if host.contains(':') && !host.starts_with('[') && host.matches(':').count() == 1 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    ServerAddress::parse(&spec).map_err(|e| {
        Error::config(
            SYSTEM,
            format!("option `host`: `{host}` is not a host name or address: {e}"),
        )
    })
}

fn tls_options(cfg: &Config) -> Result<TlsOptions> {
    if !cfg.tls.ssl_verify_hostname {
        return Err(Error::config(
            SYSTEM,
            "option `sslVerifyHostname` = false is not available with MongoDB's Rust driver on rustls: give the server a certificate naming the host you connect to, or trust its CA with `sslCaCert`",
        ));
    }
    let mut tls = TlsOptions::default();
    tls.ca_file_path = cfg.tls.ssl_ca_cert.clone();
    tls.cert_key_file_path = client_pem(cfg)?;
    Ok(tls)
}

/// The driver takes the client certificate and key as one PEM file: the certificate file
/// itself when it holds the key too, else both joined into a private file of this process.
fn client_pem(cfg: &Config) -> Result<Option<PathBuf>> {
    let (Some(cert), Some(key)) = (&cfg.tls.ssl_client_cert, &cfg.tls.ssl_client_key) else {
        return Ok(None);
    };
    if cert == key {
        return Ok(Some(cert.clone()));
    }
    let read = |path: &PathBuf, option: &str| {
        std::fs::read(path).map_err(|e| {
            Error::config(
                SYSTEM,
                format!("option `{option}`: cannot read `{}`: {e}", path.display()),
            )
        })
    };
    let mut pem = read(cert, "sslClientCert")?;
    pem.push(b'\n');
    pem.extend(read(key, "sslClientKey")?);
    let mut h = DefaultHasher::new();
    (cert, key).hash(&mut h);
    let dir = std::env::temp_dir().join(format!("spark-ds-mongodb-{}", std::process::id()));
    let path = dir.join(format!("client-{:x}.pem", h.finish()));
    write_private(&dir, &path, &pem).map_err(|e| {
        Error::internal(
            SYSTEM,
            "connect",
            format!("cannot write the joined client certificate file: {e}"),
        )
    })?;
    Ok(Some(path))
}

fn write_private(
    dir: &std::path::Path,
    path: &std::path::Path,
    data: &[u8],
) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(data)
}

async fn connect(cfg: &Config, creds: Option<(String, Secret)>) -> Result<Client> {
    let options = client_options(cfg, creds).await?;
    let label = endpoint_label(cfg);
    let client = Client::with_options(options).map_err(|e| errors::driver("connect", &label, e))?;
    // The driver connects lazily: a ping now makes a wrong address, refused credentials or
    // a failed TLS handshake an error of this step, named as such, not of the first read.
    client
        .database("admin")
        .run_command(mongodb::bson::doc! { "ping": 1 })
        .await
        .map_err(|e| {
            let reachable = !errors::is_unreachable(&e);
            let hint = if reachable {
                ""
            } else {
                " (no server answered within option `connectTimeoutMs`: check `host`/`port` or the URI's hosts, and `ssl` if the server expects TLS)"
            };
            errors::driver("connect", &format!("{label}{hint}"), e)
        })?;
    log::info!(target: "spark_ds::mongodb", "client for {} created", endpoint_label(cfg));
    Ok(client)
}
