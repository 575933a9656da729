//! One tokio runtime per process, safe with PySpark's forked Python workers.
//!
//! PySpark's daemon forks workers; a runtime built before a fork leaves the child with
//! threads that do not exist and it hangs forever. So the runtime is built lazily, the pid
//! that built it is remembered, and a forked child builds its own. The inherited one is
//! leaked on purpose: dropping it would try to join threads that are gone.

use std::future::Future;
use std::sync::Mutex;

use tokio::runtime::{Builder, Runtime};

use crate::error::{Error, Result};

/// Environment variable overriding the number of runtime worker threads.
pub const THREADS_ENV: &str = "SPARK_DS_RUNTIME_THREADS";
/// Spark runs one task per core already; a small pool keeps I/O concurrent without
/// fighting Spark for CPU.
const DEFAULT_THREADS: usize = 2;

struct Owned {
    pid: u32,
    runtime: &'static Runtime,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// The runtime for this process, built on first use (or first use after a fork).
pub fn runtime() -> Result<&'static Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(owned) = slot.as_ref() {
        if owned.pid == pid {
            return Ok(owned.runtime);
        }
    }
    let threads = std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_THREADS);
    let runtime = Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("spark-ds-io")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::internal(
                "runtime",
                "start",
                format!("cannot start the I/O runtime: {e}"),
            )
        })?;
    // Leaked: lives for the process; an inherited runtime from before a fork is leaked too.
    let runtime: &'static Runtime = Box::leak(Box::new(runtime));
    *slot = Some(Owned { pid, runtime });
    Ok(runtime)
}

/// Runs a future to completion on the process runtime.
pub fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(runtime()?.block_on(future))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_runtime_within_a_process() {
        let a = runtime().unwrap() as *const Runtime;
        let b = runtime().unwrap() as *const Runtime;
        assert_eq!(a, b);
        assert_eq!(block_on(async { 40 + 2 }).unwrap(), 42);
    }
}
