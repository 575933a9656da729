//! Options every connector shares, declared once. A connector lists the groups it uses in
//! its [`OptionSpecs`](super::OptionSpecs), in README order, and gives them its own
//! defaults and aliases through [`Override`](super::Override)s. `<SYSTEM>` in a doc line is
//! the connector's name in capitals.

use crate::logging::LogLevel;

use super::{Count, Flag, List, Millis, OptChoice, Path, Port, SecretText, Text};

const MAX_MS: i64 = i32::MAX as i64;

crate::options! {
    /// Where the server is.
    pub struct EndpointOptions {
        /// Hosts to contact, comma-separated (`host` or `host:port`).
        hosts: List = "host", default "127.0.0.1";
        /// Port of the hosts that name none.
        port: Port = "port";
    }
}

crate::options! {
    /// Who we are: the credential chain's first source (options), before the environment
    /// and the secrets file.
    pub struct CredentialOptions {
        /// User name (else env `SPARK_DS_<SYSTEM>_USERNAME`, else `secretsFile`).
        username: Text = "username";
        /// Password (else env `SPARK_DS_<SYSTEM>_PASSWORD`, else `secretsFile`); never logged.
        password: SecretText = "password";
        /// Path of a JSON file `{"username": …, "password": …}` or `key=value` lines.
        secrets_file: Path = "secretsFile";
    }
}

crate::options! {
    /// How long to wait.
    pub struct TimeoutOptions {
        /// Time allowed to open a connection, handshake and login included.
        connect_timeout: Millis<1, MAX_MS> = "connectTimeoutMs", default "5000";
        /// Time allowed for one request.
        request_timeout: Millis<1, MAX_MS> = "requestTimeoutMs", default "30000";
    }
}

crate::options! {
    /// TLS with rustls: on or off, whom to trust, who we are, whether names are checked.
    pub struct TlsOptions {
        /// Connect with TLS (rustls).
        ssl: Flag = "ssl", default "false";
        /// PEM file of the CA(s) to trust; default: the platform's roots.
        ssl_ca_cert: Path = "sslCaCert";
        /// PEM client certificate chain for mutual TLS.
        ssl_client_cert: Path = "sslClientCert";
        /// PEM private key of `sslClientCert`.
        ssl_client_key: Path = "sslClientKey";
        /// Check that the server certificate names the host connected to.
        ssl_verify_hostname: Flag = "sslVerifyHostname", default "true";
    }
}

crate::options! {
    /// The retry budget of one request on transient errors.
    pub struct RetryOptions {
        /// Attempts for one request on transient errors.
        max_attempts: Count<1, 100> = "retryMaxAttempts", default "10";
        /// Time budget for the attempts of one request.
        max_elapsed: Millis<1, MAX_MS> = "retryMaxElapsedMs", default "60000";
    }
}

crate::options! {
    /// Logging.
    pub struct LogOptions {
        /// Level of the connector's own log lines (default: the Python `spark_ds` logger's, WARNING).
        log_level: OptChoice<LogLevel> = "logLevel";
    }
}

impl RetryOptions {
    /// The retry policy of these options, starting from `initial_backoff`.
    pub fn policy(&self, initial_backoff: std::time::Duration) -> crate::retry::RetryPolicy {
        crate::retry::RetryPolicy {
            // The option's range (1–100) fits a u32.
            max_attempts: self.max_attempts as u32,
            max_elapsed: self.max_elapsed,
            initial_backoff,
            ..crate::retry::RetryPolicy::default()
        }
    }
}

impl TlsOptions {
    /// The files and checks for [`crate::tls::client_config`].
    pub fn files(&self) -> crate::tls::TlsFiles {
        crate::tls::TlsFiles {
            ca_file: self.ssl_ca_cert.clone(),
            client_cert: self.ssl_client_cert.clone(),
            client_key: self.ssl_client_key.clone(),
            verify_hostname: self.ssl_verify_hostname,
        }
    }

    /// Client certificate and key go together.
    pub fn check(&self, system: &'static str) -> crate::Result<()> {
        if self.ssl_client_cert.is_some() != self.ssl_client_key.is_some() {
            return Err(crate::Error::config(
                system,
                "options `sslClientCert` and `sslClientKey` go together",
            ));
        }
        Ok(())
    }
}

impl EndpointOptions {
    /// At least one host.
    pub fn check(&self, system: &'static str) -> crate::Result<()> {
        if self.hosts.is_empty() {
            return Err(crate::Error::config(
                system,
                "option `host` must name at least one host",
            ));
        }
        Ok(())
    }
}
