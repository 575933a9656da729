//! Credentials the user hands over directly: options, environment variables, a secrets file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures_core::future::BoxFuture;

use super::{CredentialProvider, Credentials, Provided};
use crate::error::{Error, Result};
use crate::redact::Secret;

const SYSTEM: &str = "auth";
/// A secrets file is a handful of lines; anything bigger is the wrong file.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Which credentials a connector looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    UsernamePassword,
    BearerToken,
    ApiKey,
}

/// Turns found values into credentials: nothing found is a skip, half a pair is a config
/// error (the user clearly meant to configure it).
fn assemble(
    kind: CredentialKind,
    username: Option<String>,
    secret: Option<String>,
    user_label: &str,
    secret_label: &str,
    missing: &dyn Fn(&str) -> String,
) -> Result<Provided> {
    let username = username.filter(|u| !u.is_empty());
    let secret = secret.filter(|s| !s.is_empty());
    Ok(Provided::Found(match (kind, username, secret) {
        (CredentialKind::UsernamePassword, None, None) => {
            return Ok(Provided::Skipped(missing(user_label)));
        }
        (CredentialKind::UsernamePassword, Some(_), None) => {
            return Err(Error::config(
                SYSTEM,
                format!("{user_label} is given but {}", missing(secret_label)),
            ));
        }
        (CredentialKind::UsernamePassword, None, Some(_)) => {
            return Err(Error::config(
                SYSTEM,
                format!("{secret_label} is given but {}", missing(user_label)),
            ));
        }
        (CredentialKind::UsernamePassword, Some(username), Some(password)) => {
            Credentials::UsernamePassword {
                username,
                password: Secret::new(password),
            }
        }
        (_, _, None) => return Ok(Provided::Skipped(missing(secret_label))),
        (CredentialKind::BearerToken, _, Some(token)) => Credentials::BearerToken {
            token: Secret::new(token),
        },
        (CredentialKind::ApiKey, _, Some(key)) => Credentials::ApiKey {
            key: Secret::new(key),
        },
    }))
}

/// Values passed in explicitly (the connector's options).
pub struct ExplicitCredentials {
    kind: CredentialKind,
    username: Option<String>,
    secret: Option<Secret>,
}

impl ExplicitCredentials {
    pub fn username_password(username: Option<String>, password: Option<Secret>) -> Self {
        ExplicitCredentials {
            kind: CredentialKind::UsernamePassword,
            username,
            secret: password,
        }
    }

    pub fn bearer_token(token: Option<Secret>) -> Self {
        ExplicitCredentials {
            kind: CredentialKind::BearerToken,
            username: None,
            secret: token,
        }
    }

    pub fn api_key(key: Option<Secret>) -> Self {
        ExplicitCredentials {
            kind: CredentialKind::ApiKey,
            username: None,
            secret: key,
        }
    }
}

fn secret_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::UsernamePassword => "password",
        CredentialKind::BearerToken => "token",
        CredentialKind::ApiKey => "API key",
    }
}

impl CredentialProvider for ExplicitCredentials {
    fn name(&self) -> &'static str {
        "options"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        let result = assemble(
            self.kind,
            self.username.clone(),
            self.secret.as_ref().map(|s| s.expose().to_owned()),
            "username",
            secret_label(self.kind),
            &|label| format!("no {label} given"),
        );
        Box::pin(async move { result })
    }
}

/// Reads one environment variable; injectable so tests need not touch the process environment.
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Values from environment variables whose names the connector chooses.
pub struct EnvCredentials {
    kind: CredentialKind,
    username_var: String,
    secret_var: String,
    lookup: EnvLookup,
}

impl EnvCredentials {
    /// E.g. `("SPARK_DS_CASSANDRA_USERNAME", "SPARK_DS_CASSANDRA_PASSWORD")`.
    pub fn username_password(username_var: &str, password_var: &str) -> Self {
        EnvCredentials::of(CredentialKind::UsernamePassword, username_var, password_var)
    }

    pub fn bearer_token(token_var: &str) -> Self {
        EnvCredentials::of(CredentialKind::BearerToken, "", token_var)
    }

    pub fn api_key(key_var: &str) -> Self {
        EnvCredentials::of(CredentialKind::ApiKey, "", key_var)
    }

    fn of(kind: CredentialKind, username_var: &str, secret_var: &str) -> Self {
        EnvCredentials {
            kind,
            username_var: username_var.to_owned(),
            secret_var: secret_var.to_owned(),
            lookup: Arc::new(|name| std::env::var(name).ok()),
        }
    }

    /// Reads variables through `lookup` instead of the process environment (tests).
    pub fn with_lookup(mut self, lookup: EnvLookup) -> Self {
        self.lookup = lookup;
        self
    }
}

impl CredentialProvider for EnvCredentials {
    fn name(&self) -> &'static str {
        "env"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        let username = match self.kind {
            CredentialKind::UsernamePassword => (self.lookup)(&self.username_var),
            _ => None,
        };
        let result = assemble(
            self.kind,
            username,
            (self.lookup)(&self.secret_var),
            &self.username_var,
            &self.secret_var,
            &|var| format!("{var} not set"),
        );
        Box::pin(async move { result })
    }
}

/// Values from a secrets file: a JSON object of strings, or `key=value` lines (`#` comments).
pub struct FileCredentials {
    kind: CredentialKind,
    path: Option<PathBuf>,
    username_key: String,
    secret_key: String,
}

impl FileCredentials {
    pub fn username_password(
        path: Option<PathBuf>,
        username_key: &str,
        password_key: &str,
    ) -> Self {
        FileCredentials::of(
            CredentialKind::UsernamePassword,
            path,
            username_key,
            password_key,
        )
    }

    pub fn bearer_token(path: Option<PathBuf>, token_key: &str) -> Self {
        FileCredentials::of(CredentialKind::BearerToken, path, "", token_key)
    }

    pub fn api_key(path: Option<PathBuf>, key_key: &str) -> Self {
        FileCredentials::of(CredentialKind::ApiKey, path, "", key_key)
    }

    fn of(
        kind: CredentialKind,
        path: Option<PathBuf>,
        username_key: &str,
        secret_key: &str,
    ) -> Self {
        FileCredentials {
            kind,
            path,
            username_key: username_key.to_owned(),
            secret_key: secret_key.to_owned(),
        }
    }

    fn read(&self) -> Result<Provided> {
        let Some(path) = &self.path else {
            return Ok(Provided::Skipped("no secrets file given".into()));
        };
        let shown = path.display().to_string();
        let Some(mut values) = read_secrets_file(path)? else {
            return Ok(Provided::Skipped(format!("{shown} not found")));
        };
        let username = match self.kind {
            CredentialKind::UsernamePassword => values.remove(&self.username_key),
            _ => None,
        };
        assemble(
            self.kind,
            username,
            values.remove(&self.secret_key),
            &format!("`{}`", self.username_key),
            &format!("`{}`", self.secret_key),
            &|key| format!("{shown} has no {key}"),
        )
    }
}

impl CredentialProvider for FileCredentials {
    fn name(&self) -> &'static str {
        "file"
    }

    fn provide(&self) -> BoxFuture<'_, Result<Provided>> {
        let result = self.read();
        Box::pin(async move { result })
    }
}

/// The file's keys and values; `None` when it does not exist. Values are registered as
/// secrets at once, so no later error can quote them.
pub fn read_secrets_file(path: &std::path::Path) -> Result<Option<HashMap<String, String>>> {
    let shown = path.display();
    let unreadable = |e: std::io::Error| {
        Error::config(SYSTEM, format!("secrets file {shown} cannot be read: {e}"))
    };
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(Error::config(
            SYSTEM,
            format!("secrets file {shown} is not a regular file under 1 MiB"),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            log::warn!(
                target: "spark_ds::auth",
                "secrets file {shown} is readable by other users; consider `chmod 600`"
            );
        }
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    let values =
        parse_secrets(&text).map_err(|e| e.with_context(format!("secrets file {shown}")))?;
    for value in values.values() {
        crate::redact::register_secret(value);
    }
    Ok(Some(values))
}

fn parse_secrets(text: &str) -> Result<HashMap<String, String>> {
    if text.trim_start().starts_with('{') {
        let object: HashMap<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| {
                // serde's message may quote a value; only the position is safe to show.
                Error::config(
                    SYSTEM,
                    format!(
                        "not a JSON object of strings (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
        return Ok(object
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect());
    }
    let mut values = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::config(
                SYSTEM,
                format!("line {} is not `key=value`", n + 1),
            ));
        };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        values.insert(key.trim().to_owned(), unquoted.to_owned());
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn temp_file(name: &str, content: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spark-ds-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    async fn provide(p: &dyn CredentialProvider) -> Result<Provided> {
        p.provide().await
    }

    #[tokio::test]
    async fn key_value_and_json_files_are_read() {
        let kv = temp_file(
            "kv",
            "# comment\nusername = app\npassword=\"kv-secret-1\"\n",
        );
        let json = temp_file(
            "json",
            r#"{"username": "app", "password": "json-secret-1", "port": 1}"#,
        );
        for path in [kv, json] {
            let found = provide(&FileCredentials::username_password(
                Some(path),
                "username",
                "password",
            ))
            .await
            .unwrap();
            let Provided::Found(Credentials::UsernamePassword { username, password }) = found
            else {
                panic!("{found:?}")
            };
            assert_eq!(username, "app");
            assert!(password.expose().ends_with("-secret-1"));
        }
    }

    #[tokio::test]
    async fn missing_keys_skip_and_malformed_files_fail_without_quoting_values() {
        let path = temp_file("token-only", "token=abcd-1234-token\n");
        let p = FileCredentials::username_password(Some(path.clone()), "username", "password");
        let Provided::Skipped(reason) = provide(&p).await.unwrap() else {
            panic!("found")
        };
        assert_eq!(reason, format!("{} has no `username`", path.display()));
        let token = provide(&FileCredentials::bearer_token(Some(path), "token"))
            .await
            .unwrap();
        assert!(matches!(
            token,
            Provided::Found(Credentials::BearerToken { .. })
        ));

        let bad = temp_file("bad", "user: leaked-value-77\n");
        let e = provide(&FileCredentials::api_key(Some(bad), "key"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("line 1 is not `key=value`"), "{e}");
        assert!(!e.message().contains("leaked-value-77"));
        let bad_json = temp_file("bad.json", r#"{"key": "leaked-json-88"#);
        let e = provide(&FileCredentials::api_key(Some(bad_json), "key"))
            .await
            .unwrap_err();
        assert!(
            e.message().contains("not a JSON object") && !e.message().contains("leaked-json-88"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_directory_is_not_a_secrets_file() {
        let e = provide(&FileCredentials::api_key(Some(std::env::temp_dir()), "key"))
            .await
            .unwrap_err();
        assert!(e.message().contains("not a regular file"), "{e}");
    }

    #[tokio::test]
    async fn explicit_token_and_half_pairs() {
        let p = ExplicitCredentials::bearer_token(Some(Secret::new("tok-123456")));
        assert!(matches!(
            provide(&p).await.unwrap(),
            Provided::Found(Credentials::BearerToken { .. })
        ));
        let Provided::Skipped(r) = provide(&ExplicitCredentials::api_key(None)).await.unwrap()
        else {
            panic!()
        };
        assert_eq!(r, "no API key given");
        let e = provide(&ExplicitCredentials::username_password(
            None,
            Some(Secret::new("pw-123456")),
        ))
        .await;
        assert!(
            e.unwrap_err()
                .message()
                .contains("password is given but no username given")
        );
    }
}
