//! A process-wide cache of short-lived credentials, refreshed before they expire.
//!
//! Every Spark task in a Python worker asks for a token; fetching one per task would hammer
//! the token endpoint. Tokens are kept per key (endpoint, client, scopes) and fetched again
//! once less than the safety margin of their lifetime is left.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::Credentials;
use crate::clock::Clock;
use crate::error::Result;

struct Entry {
    credentials: Credentials,
    refresh_at: Option<Instant>,
}

fn cache() -> &'static Mutex<HashMap<String, Entry>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Entry>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached credentials for `key`, or fresh ones from `fetch` (which returns them and
/// their lifetime, if known). Concurrent misses may fetch twice; both results are valid.
pub(super) async fn cached<F, Fut>(
    key: &str,
    clock: &dyn Clock,
    margin: Duration,
    fetch: F,
) -> Result<Credentials>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(Credentials, Option<Duration>)>>,
{
    let now = clock.now();
    {
        let map = cache().lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get(key) {
            if entry.refresh_at.is_none_or(|at| now < at) {
                return Ok(entry.credentials.clone());
            }
        }
    }
    let (credentials, lifetime) = fetch().await?;
    let refresh_at = lifetime.map(|l| now + l.saturating_sub(margin));
    let mut map = cache().lock().unwrap_or_else(|p| p.into_inner());
    map.insert(
        key.to_owned(),
        Entry {
            credentials: credentials.clone(),
            refresh_at,
        },
    );
    Ok(credentials)
}

/// The wall-clock expiry for a lifetime starting now, for [`Credentials`] fields.
pub(super) fn expires_at(lifetime: Option<Duration>) -> Option<SystemTime> {
    lifetime.and_then(|l| SystemTime::now().checked_add(l))
}
