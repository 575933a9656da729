//! One client per connection identity and process, reused by every task of a Python worker.
//!
//! Python workers are reused across tasks, so connecting once per worker instead of once
//! per task saves a handshake (and often authentication and metadata discovery) per task.
//! The key holds the process id: a child forked from a worker never reuses its parent's
//! clients, whose connections and runtime belong to the parent. Two tasks asking for the
//! same client at once create it once; a failed creation is not remembered, so the next
//! task tries again; a client found dead, or reported fatally failed with [`evict`], leaves
//! the cache and the next caller creates a fresh one.
//!
//! [`evict`]: ClientCache::evict

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::error::Result;

type Slot<T> = Arc<OnceCell<Arc<T>>>;

/// A process-wide cache of clients of one type, usually held in a `static`.
pub struct ClientCache<T> {
    slots: Mutex<BTreeMap<(u32, String), Slot<T>>>,
}

impl<T> Default for ClientCache<T> {
    fn default() -> Self {
        ClientCache::new()
    }
}

impl<T> ClientCache<T> {
    pub const fn new() -> Self {
        ClientCache {
            slots: Mutex::new(BTreeMap::new()),
        }
    }

    /// The client for `identity` (everything that makes a different connection; secrets only
    /// as a hash), created by `create` when there is none, or when the cached one fails
    /// `alive`. Concurrent callers wait for the one creation in flight.
    pub async fn get_or_create<F, Fut>(
        &self,
        identity: &str,
        alive: impl Fn(&T) -> bool,
        create: F,
    ) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.get_or_create_in(std::process::id(), identity, alive, create)
            .await
    }

    async fn get_or_create_in<F, Fut>(
        &self,
        pid: u32,
        identity: &str,
        alive: impl Fn(&T) -> bool,
        create: F,
    ) -> Result<Arc<T>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let slot = self.slot(pid, identity);
        if let Some(client) = slot.get() {
            if alive(client) {
                return Ok(client.clone());
            }
            let stale = client.clone();
            self.evict_in(pid, &stale);
        }
        let slot = self.slot(pid, identity);
        let client = slot
            .get_or_try_init(|| async { create().await.map(Arc::new) })
            .await?;
        Ok(client.clone())
    }

    /// Takes `client` out of the cache, so the next caller of its identity creates a fresh
    /// one. Call it when a request failed in a way the client cannot recover from
    /// (authentication refused, every connection lost); tasks already holding the client
    /// keep their `Arc`. The client, not its identity, names what to evict: a late report
    /// about an old client leaves the fresh one another task just made alone.
    pub fn evict(&self, client: &Arc<T>) -> bool {
        self.evict_in(std::process::id(), client)
    }

    fn evict_in(&self, pid: u32, client: &Arc<T>) -> bool {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let key = slots
            .iter()
            .find(|((p, _), slot)| {
                *p == pid && slot.get().is_some_and(|cached| Arc::ptr_eq(cached, client))
            })
            .map(|(key, _)| key.clone());
        match key {
            Some(key) => slots.remove(&key).is_some(),
            None => false,
        }
    }

    /// The slot of `identity` in process `pid`, made empty when missing. Slots left by
    /// the parent of a forked process are taken out and leaked, never dropped: dropping a
    /// client can touch connections and a runtime that belong to the parent.
    fn slot(&self, pid: u32, identity: &str) -> Slot<T> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.keys().any(|(p, _)| *p != pid) {
            let inherited: Vec<Slot<T>> = {
                let keys: Vec<_> = slots.keys().filter(|(p, _)| *p != pid).cloned().collect();
                keys.iter().filter_map(|k| slots.remove(k)).collect()
            };
            std::mem::forget(inherited);
        }
        slots
            .entry((pid, identity.to_owned()))
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .clone()
    }

    /// How many clients this process holds (tests and diagnostics).
    pub fn len(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.values().filter(|s| s.initialized()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    struct Client {
        n: usize,
        alive: AtomicBool,
    }

    fn counter() -> Arc<AtomicUsize> {
        Arc::new(AtomicUsize::new(0))
    }

    async fn make(created: &AtomicUsize) -> Result<Client> {
        // Long enough for every concurrent caller to arrive while creation is in flight.
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(Client {
            n: created.fetch_add(1, Ordering::SeqCst) + 1,
            alive: AtomicBool::new(true),
        })
    }

    fn alive(c: &Client) -> bool {
        c.alive.load(Ordering::SeqCst)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_creation() {
        let cache: Arc<ClientCache<Client>> = Arc::new(ClientCache::new());
        let created = counter();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (cache, created) = (cache.clone(), created.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_create("db:9042|u", alive, || make(&created))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut clients = Vec::new();
        for t in tasks {
            clients.push(t.await.unwrap());
        }
        assert_eq!(created.load(Ordering::SeqCst), 1);
        assert!(clients.iter().all(|c| Arc::ptr_eq(c, &clients[0])));
        // Another identity is another client.
        let other = cache
            .get_or_create("db:9043|u", alive, || make(&created))
            .await
            .unwrap();
        assert_eq!((other.n, cache.len()), (2, 2));
    }

    #[tokio::test]
    async fn a_failed_creation_is_not_cached() {
        let cache: ClientCache<Client> = ClientCache::new();
        let created = counter();
        let e = cache
            .get_or_create("id", alive, || async {
                Err::<Client, _>(Error::auth("t", "connect", "bad credentials"))
            })
            .await
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(cache.is_empty());
        let c = cache
            .get_or_create("id", alive, || make(&created))
            .await
            .unwrap();
        assert_eq!(c.n, 1);
    }

    #[tokio::test]
    async fn evicted_and_dead_clients_are_replaced() {
        let cache: ClientCache<Client> = ClientCache::new();
        let created = counter();
        let get = || cache.get_or_create("id", alive, || make(&created));
        let first = get().await.unwrap();
        assert!(Arc::ptr_eq(&first, &get().await.unwrap()));

        assert!(cache.evict(&first));
        let second = get().await.unwrap();
        assert_eq!(second.n, 2);
        // A late report about the old client leaves the fresh one alone.
        assert!(!cache.evict(&first));
        assert!(Arc::ptr_eq(&second, &get().await.unwrap()));

        second.alive.store(false, Ordering::SeqCst);
        let third = get().await.unwrap();
        assert_eq!((third.n, cache.len()), (3, 1));
    }

    #[tokio::test]
    async fn the_process_id_is_part_of_the_key() {
        let cache: ClientCache<Client> = ClientCache::new();
        let created = counter();
        let parent = cache
            .get_or_create_in(100, "id", alive, || make(&created))
            .await
            .unwrap();
        // The same identity in a forked child (another pid) gets its own client, and the
        // parent's slot is gone from the child's cache.
        let child = cache
            .get_or_create_in(101, "id", alive, || make(&created))
            .await
            .unwrap();
        assert!(!Arc::ptr_eq(&parent, &child));
        assert_eq!((child.n, cache.len()), (2, 1));
        let mine = cache
            .get_or_create("id", alive, || make(&created))
            .await
            .unwrap();
        assert_eq!(mine.n, 3);
    }
}
