//! Secret redaction by construction.
//!
//! Secrets enter the process through options and the auth chain; both register them here.
//! Every error message is passed through [`redact`], which removes registered secret values
//! and the password part of any `scheme://user:password@host` URI.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{OnceLock, RwLock};

const MASK: &str = "***";
/// Short values are not treated as secrets to mask: masking "a" would shred every message.
const MIN_SECRET_LEN: usize = 4;

fn registry() -> &'static RwLock<BTreeSet<String>> {
    static SECRETS: OnceLock<RwLock<BTreeSet<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(BTreeSet::new()))
}

/// Remember a secret value so that no later message can show it.
pub fn register_secret(value: &str) {
    if value.len() >= MIN_SECRET_LEN {
        if let Ok(mut set) = registry().write() {
            set.insert(value.to_owned());
        }
    }
}

/// The message with registered secrets and URI passwords masked.
pub fn redact(message: &str) -> String {
    let mut out = redact_uri_passwords(message);
    if let Ok(set) = registry().read() {
        // Longest first, so a secret containing another is masked whole.
        let mut secrets: Vec<&String> = set.iter().collect();
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
}
