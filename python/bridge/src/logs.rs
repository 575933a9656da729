//! Rust log records reach Python's `logging`, and so Spark's executor logs.
//!
//! Records are queued, not sent from the thread that logs: a tokio thread taking the GIL
//! while a Python thread waits on it would deadlock. Every call through [`crate::call`]
//! flushes the queue on its way back to Python.

use std::collections::VecDeque;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use pyo3::prelude::*;
use spark_ds_core::Result;
use spark_ds_core::logging::parse_level;

/// Beyond this many queued records the oldest are dropped (and counted) rather than
/// growing memory when nobody flushes.
const MAX_QUEUED: usize = 10_000;
pub const LEVEL_ENV: &str = "SPARK_DS_LOG_LEVEL";

struct Queued {
    logger: String,
    level: u8,
    message: String,
}

struct Queue {
    records: VecDeque<Queued>,
    dropped: usize,
}

static QUEUE: Mutex<Queue> = Mutex::new(Queue {
    records: VecDeque::new(),
    dropped: 0,
});

struct Forwarder;

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let queued = Queued {
            logger: record.target().replace("::", "."),
            level: python_level(record.level()),
            message: spark_ds_core::redact::redact(&record.args().to_string()),
        };
        let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
        if queue.records.len() >= MAX_QUEUED {
            queue.records.pop_front();
            queue.dropped += 1;
        }
        queue.records.push_back(queued);
    }

    fn flush(&self) {}
}

fn python_level(level: Level) -> u8 {
    match level {
        Level::Error => 40,
        Level::Warn => 30,
        Level::Info => 20,
        Level::Debug => 10,
        Level::Trace => 5,
    }
}

/// Installs the forwarder once per extension module; the level comes from the environment.
pub(crate) fn install() {
    if log::set_boxed_logger(Box::new(Forwarder)).is_ok() {
        let level = std::env::var(LEVEL_ENV)
            .ok()
            .and_then(|l| parse_level(&l).ok());
        log::set_max_level(level.unwrap_or(LevelFilter::Info));
    }
}

pub(crate) fn set_level(level: &str) -> Result<()> {
    log::set_max_level(parse_level(level)?);
    Ok(())
}

/// Hands queued records to Python's `logging`. Never fails: logging must not break a task.
pub fn flush(py: Python<'_>) {
    let (records, dropped) = {
        let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
        (
            std::mem::take(&mut queue.records),
            std::mem::take(&mut queue.dropped),
        )
    };
    if records.is_empty() && dropped == 0 {
        return;
    }
    let Ok(logging) = py.import("logging") else {
        return;
    };
    for record in records {
        if let Ok(logger) = logging.call_method1("getLogger", (record.logger.as_str(),)) {
            let _ = logger.call_method1("log", (record.level, record.message.as_str()));
        }
    }
    if dropped > 0 {
        if let Ok(logger) = logging.call_method1("getLogger", ("spark_ds",)) {
            let _ = logger.call_method1("warning", (format!("{dropped} log records dropped"),));
        }
    }
}
