//! Credentials from the first source that has them, in a fixed priority order.
//!
//! Users keep secrets in different places: options, environment variables, a mounted
//! secrets file. An
//! [`AuthChain`] asks each [`CredentialProvider`] in order; the first that finds credentials
//! wins and is reported. A provider that is not configured *skips* with a reason, so a
//! failed chain explains every source ("options: no username given; env:
//! SPARK_DS_X_USERNAME not set; file: /p not found"). A provider that is configured but
//! broken (a malformed file, a token endpoint refusing the client) stops the chain with its
//! error: falling through would hide the user's mistake behind a vaguer one.

pub mod sources;

use futures_core::future::BoxFuture;

use crate::error::{Error, Result};
use crate::options::shared::CredentialOptions;
use crate::redact::Secret;

pub use sources::{CredentialKind, EnvCredentials, ExplicitCredentials, FileCredentials};

/// Credentials a connector hands to its driver. Secrets are [`Secret`]s, so `Debug` is safe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    UsernamePassword { username: String, password: Secret },
    BearerToken { token: Secret },
    ApiKey { key: Secret },
}

/// What one provider found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provided {
    Found(Credentials),
    /// Not configured or nothing there; the reason goes into the chain's error.
    Skipped(String),
}

/// One source of credentials.
pub trait CredentialProvider: Send + Sync {
    /// Short name used in reports: `options`, `env`, `file`.
    fn name(&self) -> &'static str;
    /// Looks for credentials. `Err` means configured but broken, and stops the chain.
    fn provide(&self) -> BoxFuture<'_, Result<Provided>>;
}

/// The chain's answer: the credentials and which provider gave them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub credentials: Credentials,
    pub provider: &'static str,
}

/// A username and password from the chain every connector offers: its `username` /
/// `password` options, then the environment variables `env` (username, password), then
/// its `secretsFile`. `None` when no source has any (the client connects anonymously, or
/// a connection URI carries them).
pub async fn username_password(
    system: &'static str,
    options: &CredentialOptions,
    env: (&str, &str),
) -> Result<Option<(String, Secret)>> {
    let chain = AuthChain::new(system)
        .with(ExplicitCredentials::username_password(
            options.username.clone(),
            options.password.clone(),
        ))
        .with(EnvCredentials::username_password(env.0, env.1))
        .with(FileCredentials::username_password(
            options.secrets_file.clone(),
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
            system,
            "authenticate",
            format!("unexpected credentials from {}", other.provider),
        )),
    }
}

/// Providers tried in the order they were added.
pub struct AuthChain {
    system: &'static str,
    providers: Vec<Box<dyn CredentialProvider>>,
}

impl AuthChain {
    pub fn new(system: &'static str) -> Self {
        AuthChain {
            system,
            providers: Vec::new(),
        }
    }

    /// Adds a provider after those already added.
    pub fn with(mut self, provider: impl CredentialProvider + 'static) -> Self {
        self.providers.push(Box::new(provider));
        self
    }

    /// For systems that also accept anonymous clients: `None` when every provider skipped
    /// (the reasons are logged at debug level), the first credentials found otherwise.
    pub async fn resolve_optional(&self) -> Result<Option<Resolved>> {
        match self.resolve_or_skips().await? {
            Ok(resolved) => Ok(Some(resolved)),
            Err(skipped) => {
                log::debug!(
                    target: "spark_ds::auth",
                    "{}: no credentials, connecting anonymously ({})",
                    self.system,
                    skipped.join("; ")
                );
                Ok(None)
            }
        }
    }

    /// The first credentials found; an auth error listing every skip reason if none.
    pub async fn resolve(&self) -> Result<Resolved> {
        let skipped = match self.resolve_or_skips().await? {
            Ok(resolved) => return Ok(resolved),
            Err(skipped) => skipped,
        };
        let tried = if skipped.is_empty() {
            "no credential source configured".to_owned()
        } else {
            skipped.join("; ")
        };
        Err(Error::auth(
            self.system,
            "authenticate",
            format!("no credentials found ({tried})"),
        ))
    }

    /// Walks the providers: the first credentials found, or every skip reason.
    async fn resolve_or_skips(&self) -> Result<std::result::Result<Resolved, Vec<String>>> {
        let mut skipped = Vec::new();
        for provider in &self.providers {
            match provider.provide().await {
                Ok(Provided::Found(credentials)) => {
                    log::debug!(
                        target: "spark_ds::auth",
                        "{}: credentials from {}",
                        self.system,
                        provider.name()
                    );
                    return Ok(Ok(Resolved {
                        credentials,
                        provider: provider.name(),
                    }));
                }
                Ok(Provided::Skipped(reason)) => {
                    skipped.push(format!("{}: {reason}", provider.name()))
                }
                Err(e) => {
                    return Err(e.with_context(format!("credentials from {}", provider.name())));
                }
            }
        }
        Ok(Err(skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::collections::HashMap;
    use std::sync::Arc;

    fn env(pairs: &[(&str, &str)]) -> sources::EnvLookup {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Arc::new(move |k| map.get(k).cloned())
    }

    fn chain(
        explicit: ExplicitCredentials,
        vars: &[(&str, &str)],
        file: Option<&str>,
    ) -> AuthChain {
        AuthChain::new("test")
            .with(explicit)
            .with(
                EnvCredentials::username_password("SPARK_DS_X_USERNAME", "SPARK_DS_X_PASSWORD")
                    .with_lookup(env(vars)),
            )
            .with(FileCredentials::username_password(
                file.map(Into::into),
                "username",
                "password",
            ))
    }

    #[tokio::test]
    async fn username_password_takes_the_options_first_and_is_none_without_any_source() {
        let given = CredentialOptions {
            username: Some("opt-user".into()),
            password: Some(Secret::new("opt-pass-1")),
            secrets_file: None,
        };
        let env_vars = (
            "SPARK_DS_TEST_UNSET_USERNAME",
            "SPARK_DS_TEST_UNSET_PASSWORD",
        );
        let (user, password) = username_password("test", &given, env_vars)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (user.as_str(), password.expose()),
            ("opt-user", "opt-pass-1")
        );
        let none = CredentialOptions {
            username: None,
            password: None,
            secrets_file: None,
        };
        assert!(
            username_password("test", &none, env_vars)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn first_provider_with_credentials_wins() {
        let explicit = ExplicitCredentials::username_password(
            Some("opt-user".into()),
            Some(Secret::new("opt-pass-1")),
        );
        let vars = [
            ("SPARK_DS_X_USERNAME", "env-user"),
            ("SPARK_DS_X_PASSWORD", "env-pass-1"),
        ];
        let r = chain(explicit, &vars, None).resolve().await.unwrap();
        assert_eq!(r.provider, "options");

        let r = chain(
            ExplicitCredentials::username_password(None, None),
            &vars,
            None,
        )
        .resolve()
        .await
        .unwrap();
        assert_eq!(r.provider, "env");
        let Credentials::UsernamePassword { username, password } = r.credentials else {
            panic!("kind")
        };
        assert_eq!(
            (username.as_str(), password.expose()),
            ("env-user", "env-pass-1")
        );
    }

    #[tokio::test]
    async fn failure_lists_why_each_provider_was_skipped() {
        let e = chain(
            ExplicitCredentials::username_password(None, None),
            &[],
            Some("/nonexistent/creds"),
        )
        .resolve()
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(
            e.message(),
            "no credentials found (options: no username given; env: SPARK_DS_X_USERNAME not set; \
             file: /nonexistent/creds not found)"
        );
    }

    #[tokio::test]
    async fn a_broken_provider_stops_the_chain() {
        let vars = [("SPARK_DS_X_USERNAME", "env-user")];
        let e = chain(
            ExplicitCredentials::username_password(None, None),
            &vars,
            None,
        )
        .resolve()
        .await
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().starts_with("credentials from env: "), "{e}");
        assert!(e.message().contains("SPARK_DS_X_PASSWORD"), "{e}");
    }

    #[tokio::test]
    async fn empty_chain_says_so() {
        let e = AuthChain::new("test").resolve().await.unwrap_err();
        assert!(e.message().contains("no credential source configured"));
    }
}
