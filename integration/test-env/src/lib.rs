//! The services harness (`integration/services.sh`) as the connectors' live Rust tests see it.
//!
//! Test-only: a missing or malformed env file panics with the command that writes it.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

/// The harness's env file: `SPARK_DS_SERVICES_ENV`, else `env.json` in `SPARK_DS_SERVICES_HOME`,
/// else in the checkout's `.services`.
pub fn env() -> Value {
    let path = std::env::var("SPARK_DS_SERVICES_ENV").unwrap_or_else(|_| {
        let state = std::env::var("SPARK_DS_SERVICES_HOME")
            .unwrap_or_else(|_| format!("{}/../../.services", env!("CARGO_MANIFEST_DIR")));
        format!("{state}/env.json")
    });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read {path} ({e}): run `integration/services.sh up` first")
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// `host`, `port`, `username` and `password` of one service, as connector options.
pub fn connection_options(service: &str) -> Vec<(String, String)> {
    let env = env();
    let s = &env[service];
    if s.is_null() {
        panic!("the harness's env has no `{service}`: run `integration/services.sh up {service}`");
    }
    let text = |key: &str| match &s[key] {
        Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    ["host", "port", "username", "password"]
        .into_iter()
        .map(|key| (key.to_string(), text(key)))
        .collect()
}

/// `connection_options(service)` followed by `extra`, keys lowercased; an extra replaces an
/// option of the same name.
pub fn options(service: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut options = connection_options(service);
    for (key, value) in extra {
        let key = key.to_lowercase();
        options.retain(|(k, _)| *k != key);
        options.push((key, value.to_string()));
    }
    options
}

/// A name no other run uses: `tag`, the process id and the clock, kept under `modulo`.
pub fn unique(tag: &str, modulo: u128) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!("{tag}_{}_{}", std::process::id(), millis % modulo)
}
