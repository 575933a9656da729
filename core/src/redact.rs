//! Secret redaction by construction.
//!
//! Secrets enter the process through options and the auth chain; both register them here.
//! Every error message and log record is passed through [`redact`], which masks
//! credentials where they occur as credentials, whatever their value:
//! - the password of any `scheme://user:password@host` URI;
//! - the value of an auth field: `password=…`, `password: …`, `"password": "…"` (also
//!   `passwd`, `pwd`, `secret`, `token`, `api_key`, `apikey`, `access_token`,
//!   `client_secret`), `Authorization: …`, `Bearer …`;
//!
//! and, anywhere else, the exact value of every registered secret, so a driver or server
//! message that quotes one still cannot leak it. The exception is a secret that equals a
//! word users need to read — the system name, a keyspace or table name, registered with
//! [`register_public`]: with the password `cassandra`, masking every `cassandra` would turn
//! `write cassandra.users` into `write ***.users` and hide nothing (the word is printed
//! next to it anyway). Such a secret is still masked in every credential position above.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{OnceLock, RwLock};

const MASK: &str = "***";
/// Short values are not treated as secrets to mask: masking "a" would shred every message.
const MIN_SECRET_LEN: usize = 4;
/// Field names whose value is a credential, lower case.
const AUTH_FIELDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "client_secret",
    "token",
    "access_token",
    "api_key",
    "apikey",
    "authorization",
];

#[derive(Default)]
struct Registry {
    secrets: BTreeSet<String>,
    /// Lower-cased words users need to read.
    public: BTreeSet<String>,
}

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(Registry::default()))
}

/// Remember a secret value so that no later message can show it.
pub fn register_secret(value: &str) {
    if value.len() >= MIN_SECRET_LEN {
        if let Ok(mut r) = registry().write() {
            r.secrets.insert(value.to_owned());
        }
    }
}

/// Remember the password inside a connection URI (`scheme://user:password@host/…`), as
/// written and percent-decoded: a driver message may quote the user info without the URI.
pub fn register_uri_password(uri: &str) {
    let Some(rest) = uri.split_once("://").map(|(_, r)| r) else {
        return;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, password)) = userinfo.split_once(':')
        && !password.is_empty()
    {
        register_secret(password);
        if let Some(decoded) = percent_decode(password) {
            register_secret(&decoded);
        }
    }
}

/// `%XX` escapes decoded, or `None` when there are none (or they are malformed).
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Remember a word users need to read in messages (the system name, a keyspace or table
/// name): a secret equal to it is masked only where it stands as a credential.
pub fn register_public(word: &str) {
    if !word.is_empty() {
        if let Ok(mut r) = registry().write() {
            r.public.insert(word.to_lowercase());
        }
    }
}

/// The message with credentials and registered secrets masked.
pub fn redact(message: &str) -> String {
    let mut out = redact_auth_fields(&redact_uri_passwords(message));
    if let Ok(r) = registry().read() {
        // Longest first, so a secret containing another is masked whole.
        let mut secrets: Vec<&String> = r
            .secrets
            .iter()
            .filter(|s| !r.public.contains(&s.to_lowercase()))
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
    }
    out
}

/// Masks the password in every `scheme://user:password@` found in the text.
fn redact_uri_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        let (head, tail) = rest.split_at(pos + 3);
        out.push_str(head);
        let authority_end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Masks the value of every auth field (`password=…`, `"token": "…"`, `Authorization: …`)
/// and every `Bearer …` token. A field name needs a `=` or `:` after it (spaces and a
/// closing quote allowed), so prose such as "username and/or password are incorrect" or
/// "option `password`: expected a string" is left as written.
fn redact_auth_fields(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) || text[..i].chars().next_back().is_some_and(is_word_char) {
            i += 1;
            continue;
        }
        let field = AUTH_FIELDS
            .iter()
            .filter(|f| lower[i..].starts_with(*f))
            .filter(|f| !text[i + f.len()..].starts_with(is_word_char))
            .max_by_key(|f| f.len());
        let bearer = lower[i..].starts_with("bearer ");
        let value_start = match (field, bearer) {
            (_, true) => Some(i + "bearer ".len()),
            (Some(f), false) => separator_end(text, i + f.len()),
            (None, false) => None,
        };
        let Some(mut start) = value_start else {
            i += 1;
            continue;
        };
        let is_authorization = field == Some(&"authorization");
        // `Authorization: Bearer x` masks only the credentials after the scheme.
        if is_authorization && lower[start..].starts_with("bearer ") {
            start += "bearer ".len();
        }
        let (value_start, value_end) = match bytes.get(start) {
            Some(q @ (b'"' | b'\'')) => {
                let close = text[start + 1..]
                    .find(*q as char)
                    .map_or(text.len(), |n| start + 1 + n);
                (start + 1, close)
            }
            // A header's credentials may hold spaces (`Basic x`): up to the line's end.
            _ if is_authorization => {
                let end = text[start..]
                    .find(['\r', '\n'])
                    .map_or(text.len(), |n| start + n);
                (start, end)
            }
            _ => {
                let end = text[start..]
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, '&' | ';' | ',' | ')' | ']' | '}')
                    })
                    .map_or(text.len(), |n| start + n);
                (start, end)
            }
        };
        if value_end > value_start {
            out.push_str(&text[copied..value_start]);
            out.push_str(MASK);
            copied = value_end;
        }
        i = value_end.max(i + 1);
    }
    out.push_str(&text[copied..]);
    out
}

/// Where a field's value starts: after an optional closing quote, spaces, one `=` or `:`,
/// and spaces. `None` when no separator follows the name.
fn separator_end(text: &str, mut i: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    if !matches!(bytes.get(i), Some(b'=' | b':')) {
        return None;
    }
    i += 1;
    while bytes.get(i) == Some(&b' ') {
        i += 1;
    }
    Some(i)
}

/// A string that never shows itself in `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps and registers the value, so messages that quote it are masked too.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        register_secret(&value);
        Secret(value)
    }

    /// The value itself, for handing to a driver. Never format it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_uri_passwords_but_keeps_user_and_host() {
        assert_eq!(
            redact("connect mongodb://app:s3cr3t@db:27017/x failed"),
            "connect mongodb://app:***@db:27017/x failed"
        );
        assert_eq!(redact("http://host:8080/path"), "http://host:8080/path");
        assert_eq!(redact("no uri here"), "no uri here");
    }

    #[test]
    fn a_uri_password_is_registered_as_written_and_decoded() {
        register_uri_password("amqp://user:pa%24%24-word-77@host:5672/v?x=1");
        let masked = redact("refused pa$$-word-77 (pa%24%24-word-77) for user");
        assert!(!masked.contains("word-77"), "{masked}");
        assert!(masked.contains("user"), "{masked}");
        assert_eq!(percent_decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(percent_decode("plain"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }

    #[test]
    fn masks_registered_secrets() {
        let s = Secret::new("correct-horse-battery");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(
            redact("bad password correct-horse-battery!"),
            "bad password ***!"
        );
        assert_eq!(s.expose(), "correct-horse-battery");
    }

    #[test]
    fn short_values_are_not_masked() {
        register_secret("ab");
        assert_eq!(redact("tab"), "tab");
    }

    #[test]
    fn a_distinctive_secret_is_masked_wherever_it_leaks() {
        Secret::new("pw-7Hq2-zeta");
        // As a driver might quote it, in an error built from the driver's message.
        let e = crate::Error::auth(
            "cassandra",
            "connect",
            "Authentication failed: bad credentials for pw-7Hq2-zeta (SASL)",
        );
        assert!(!e.to_string().contains("pw-7Hq2-zeta"), "{e}");
        assert!(
            e.message().contains("bad credentials for *** (SASL)"),
            "{e}"
        );
        assert_eq!(
            redact("amqp://app:pw-7Hq2-zeta@broker:5672/vh"),
            "amqp://app:***@broker:5672/vh"
        );
    }

    #[test]
    fn a_secret_equal_to_a_public_word_keeps_ordinary_text_readable() {
        Secret::new("cassandra");
        register_public("cassandra");
        assert_eq!(
            redact("cassandra write ks.users: 10 rows"),
            "cassandra write ks.users: 10 rows"
        );
        assert_eq!(redact("write cassandra.users"), "write cassandra.users");
        assert_eq!(
            redact("logger spark_ds.cassandra"),
            "logger spark_ds.cassandra"
        );
        // Where it stands as a credential it is still masked.
        assert_eq!(
            redact("cql://cassandra:cassandra@db:9042"),
            "cql://cassandra:***@db:9042"
        );
        assert_eq!(
            redact("login with password=cassandra failed"),
            "login with password=*** failed"
        );
    }

    #[test]
    fn auth_fields_are_masked_whatever_their_value() {
        assert_eq!(redact("password=hunter22&user=a"), "password=***&user=a");
        assert_eq!(redact("PWD: x1; next"), "PWD: ***; next");
        assert_eq!(
            redact(r#"{"user": "a", "password": "p w", "n": 1}"#),
            r#"{"user": "a", "password": "***", "n": 1}"#
        );
        assert_eq!(redact("client_secret='s3'"), "client_secret='***'");
        assert_eq!(
            redact("Authorization: Bearer abc.def"),
            "Authorization: Bearer ***"
        );
        assert_eq!(
            redact("authorization: Basic dXNlcg=="),
            "authorization: ***"
        );
        assert_eq!(redact("sent bearer eyJhbGci.x"), "sent bearer ***");
        assert_eq!(redact("token: t0k"), "token: ***");
    }

    #[test]
    fn prose_about_credentials_is_left_alone() {
        for text in [
            "Provided username app and/or password are incorrect",
            "option `password`: expected a string",
            "check `username`/`password`",
            "token range (-5, 9] of 3",
            "read partition tokens=(1,2]",
            "no secrets file given",
        ] {
            assert_eq!(redact(text), text);
        }
    }
}
