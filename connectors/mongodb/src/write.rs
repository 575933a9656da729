//! Writes: the DataFrame checked on the driver, save modes, Arrow batches to bulk `insert`
//! and `update` commands (FerretDB has no `bulkWrite` command; these two work everywhere).
//!
//! Retries: a transient error (connection cut, server restarting) resends the same command.
//! Replace and update are idempotent (same filter, same values). An insert cut midway may
//! have stored part of its documents: the resend is unordered, and a duplicate key on it
//! counts as written only when the collection holds that very document under its `_id`
//! (the cut attempt stored it); any other duplicate is what it would have been on the
//! first attempt (an error, or skipped with `ignoreDuplicatesOnInsert`). Documents without
//! an `_id` get one here, before the first attempt, so a resend carries the same `_id`s.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use mongodb::Database;
use mongodb::bson::{Bson, Document, RawDocumentBuf, doc};
use spark_ds_core::{BatchSink, Error, ErrorKind, Result, RetryPolicy, TaskMetrics};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::bson_out;
use crate::from_arrow::{Encoder, Limits};
use crate::options::{Config, OperationType, OverwriteStrategy, SaveMode};
use crate::statement::{self, Statements, Stmt};
use crate::{SYSTEM, client, deadline, errors, retry_policy};

const LOG: &str = "spark_ds::mongodb";

/// Bytes of documents per command: well under the 16 MiB a command document may have.
const MAX_COMMAND_BYTES: usize = 8 * 1024 * 1024;
/// Failed keys named in one message.
const MAX_KEYS_SHOWN: usize = 10;

/// What the connected server cannot store, from `buildInfo` (a read, no side effect).
pub(crate) async fn server_limits(cfg: &Config) -> Result<Limits> {
    let client = client::client(cfg).await?;
    let info = client
        .database("admin")
        .run_command(doc! { "buildInfo": 1 })
        .await
        .map_err(|e| errors::driver("server info", &client::endpoint_label(cfg), e))?;
    Ok(Limits {
        ferretdb: info.contains_key("ferretdbVersion"),
    })
}

/// Database and collection names the server would refuse, refused before anything runs.
fn check_names(cfg: &Config) -> Result<()> {
    let db = cfg.database()?;
    if db.is_empty() || db.chars().any(|c| "/\\. \"$\0".contains(c)) {
        return Err(Error::config(
            SYSTEM,
            format!(
                "option `database`: `{db}` is not a database name (it must be non-empty, without / \\ . space \" $)"
            ),
        ));
    }
    let coll = cfg.collection()?;
    if coll.is_empty() || coll.contains('$') || coll.contains('\0') || coll.starts_with("system.") {
        return Err(Error::config(
            SYSTEM,
            format!(
                "option `collection`: `{coll}` is not a collection name a write can use (non-empty, no `$`, not `system.…`)"
            ),
        ));
    }
    Ok(())
}

/// The id fields as column indexes of the DataFrame. Replace and update need every one of
/// them (they are the filter); insert uses them only to name documents in messages.
fn id_columns(cfg: &Config, enc: &Encoder) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for name in &cfg.id_fields {
        match enc.column_index(name) {
            Some(i) => out.push(i),
            None if cfg.operation_type == OperationType::Insert => return Ok(Vec::new()),
            None => {
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "option `idFieldList` names `{name}`, which is not a column of the DataFrame; operationType `{}` finds each document by these fields, so every one must be a column (or use operationType `insert`)",
                        cfg.operation_type.name()
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Driver side, once per write. Every check that needs no write runs first (names, options,
/// every column convertible for this server, the id fields present, `overwriteStrategy`
/// given); only then the side effects: drop or delete for overwrite, the save mode's check.
/// Returns whether the tasks should write.
pub(crate) async fn prepare_write(cfg: &Config, schema: &Schema, overwrite: bool) -> Result<bool> {
    check_names(cfg)?;
    let enc = Encoder::new(cfg, schema, Limits::default())?;
    id_columns(cfg, &enc)?;
    let strategy = match (overwrite, cfg.overwrite_strategy) {
        (true, None) => {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "mode(\"overwrite\") needs option `overwriteStrategy`: `drop` (drops {} with its indexes, then writes) or `deleteAll` (deletes every document, keeps the collection, its indexes and options); nothing was changed",
                    cfg.namespace()?
                ),
            ));
        }
        (true, Some(s)) => Some(s),
        (false, _) => None,
    };
    let limits = server_limits(cfg).await?;
    Encoder::new(cfg, schema, limits)?;
    let ns = cfg.namespace()?;
    let coll = client::collection(cfg).await?;
    match strategy {
        Some(OverwriteStrategy::Drop) => {
            log::info!(target: LOG, "overwrite: dropping {ns}");
            coll.drop()
                .await
                .map_err(|e| errors::driver("overwrite (drop)", &ns, e))?;
            return Ok(true);
        }
        Some(OverwriteStrategy::DeleteAll) => {
            let r = coll
                .delete_many(doc! {})
                .await
                .map_err(|e| errors::driver("overwrite (deleteAll)", &ns, e))?;
            log::info!(target: LOG, "overwrite: {} documents deleted from {ns}", r.deleted_count);
            return Ok(true);
        }
        None => {}
    }
    if cfg.save_mode == SaveMode::Append {
        return Ok(true);
    }
    let any = coll
        .find_one(doc! {})
        .projection(doc! { "_id": 1 })
        .await
        .map_err(|e| errors::driver("save mode", &ns, e))?;
    match (any.is_some(), cfg.save_mode) {
        (false, _) => Ok(true),
        (true, SaveMode::Ignore) => {
            log::info!(target: LOG, "{ns} has documents and saveMode is ignore: nothing written");
            Ok(false)
        }
        (true, _) => Err(Error::already_exists(
            SYSTEM,
            "save mode",
            format!(
                "collection `{ns}` already has documents and option `saveMode` is errorIfExists; nothing was written"
            ),
        )),
    }
}

#[derive(Default)]
struct Counters {
    rows: AtomicU64,
    commands: AtomicU64,
    duplicates: AtomicU64,
    upserted: AtomicU64,
    bytes: AtomicU64,
}

struct Shared {
    db: Database,
    collection: String,
    ns: String,
    op: OperationType,
    ordered: bool,
    ignore_duplicates: bool,
    write_concern: Option<RawDocumentBuf>,
    /// FerretDB's `update` reports a failing statement without its true index.
    ferretdb: bool,
    key_names: Vec<String>,
    policy: RetryPolicy,
    /// How long one command's reply may take.
    request_timeout: Duration,
    metrics: TaskMetrics,
    counters: Counters,
}

/// The sink of one write task.
pub struct Writer {
    shared: Arc<Shared>,
    statements: Statements,
    max_batch: usize,
    concurrent: usize,
    pending: Vec<Stmt>,
    pending_bytes: usize,
    rows_seen: u64,
    tasks: JoinSet<Result<()>>,
    failure: Arc<Mutex<Option<Error>>>,
}

fn write_concern(cfg: &Config) -> Option<RawDocumentBuf> {
    let mut wc = RawDocumentBuf::new();
    if let Some(w) = cfg.write_concern_w.as_deref() {
        match w.parse::<i32>() {
            Ok(n) => wc.append("w", n),
            Err(_) => wc.append("w", w.to_string()),
        }
    }
    if let Some(j) = cfg.journal {
        wc.append("j", j);
    }
    if let Some(ms) = cfg.write_concern_timeout_ms {
        wc.append("wtimeout", ms as i64);
    }
    (!wc.is_empty()).then_some(wc)
}

pub(crate) async fn open_writer(cfg: &Config, schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    check_names(cfg)?;
    let limits = server_limits(cfg).await?;
    let enc = Encoder::new(cfg, &schema, limits)?;
    let ids = id_columns(cfg, &enc)?;
    let statements = Statements::new(enc, ids, cfg.operation_type, cfg.upsert_document);
    let client = client::client(cfg).await?;
    let ns = cfg.namespace()?;
    log::info!(target: LOG, "mongodb write {ns}: writer open");
    Ok(Box::new(Writer {
        shared: Arc::new(Shared {
            db: client.database(cfg.database()?),
            collection: cfg.collection()?.to_string(),
            ns,
            op: cfg.operation_type,
            ordered: cfg.ordered,
            ignore_duplicates: cfg.ignore_duplicates_on_insert,
            write_concern: write_concern(cfg),
            ferretdb: limits.ferretdb,
            key_names: statements.key_names().to_vec(),
            policy: retry_policy(cfg),
            request_timeout: cfg.timeouts.request_timeout,
            metrics: TaskMetrics::with_request_noun("commands"),
            counters: Counters::default(),
        }),
        statements,
        max_batch: cfg.bulk_size(),
        concurrent: cfg.concurrent_writes.max(1),
        pending: Vec::new(),
        pending_bytes: 0,
        rows_seen: 0,
        tasks: JoinSet::new(),
        failure: Arc::new(Mutex::new(None)),
    }))
}

impl Writer {
    async fn check_failure(&mut self) -> Result<()> {
        if let Some(e) = self.failure.lock().await.take() {
            return Err(e);
        }
        // A command already failed: stop producing more.
        while let Some(done) = self.tasks.try_join_next() {
            done.map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))??;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        while self.tasks.len() >= self.concurrent {
            if let Some(r) = self.tasks.join_next().await {
                r.map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))??;
            }
        }
        let stmts = std::mem::take(&mut self.pending);
        let bytes = std::mem::take(&mut self.pending_bytes) as u64;
        let rt = spark_ds_core::runtime::runtime()?;
        self.tasks
            .spawn_on(send(self.shared.clone(), stmts, bytes), rt.handle());
        Ok(())
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.check_failure().await?;
        for row in 0..batch.num_rows() {
            let stmt = self
                .statements
                .statement(&batch, row, self.rows_seen + row as u64)?;
            let size = stmt.body.as_bytes().len();
            if !self.pending.is_empty() && self.pending_bytes + size > MAX_COMMAND_BYTES {
                self.flush().await?;
            }
            self.pending_bytes += size;
            self.pending.push(stmt);
            if self.pending.len() >= self.max_batch {
                self.flush().await?;
            }
        }
        self.rows_seen += batch.num_rows() as u64;
        Ok(())
    }

    async fn finish_all(&mut self) -> Result<Vec<(String, u64)>> {
        let mut first = self.failure.lock().await.take();
        if first.is_none() {
            if let Err(e) = self.flush().await {
                first = Some(e);
            }
        }
        while let Some(r) = self.tasks.join_next().await {
            let r = r
                .map_err(|e| Error::internal(SYSTEM, "write", e.to_string()))
                .and_then(|x| x);
            if let (Err(e), None) = (r, &first) {
                first = Some(e);
            }
        }
        let s = &self.shared;
        let c = &s.counters;
        let mut summary = s.metrics.summary_line(SYSTEM, &format!("write {}", s.ns));
        let _ = write!(
            summary,
            ", {} duplicates skipped, {} upserted",
            c.duplicates.load(Ordering::Relaxed),
            c.upserted.load(Ordering::Relaxed)
        );
        log::info!(target: LOG, "{summary}");
        if let Some(e) = first {
            return Err(e);
        }
        Ok(vec![
            ("rows".into(), c.rows.load(Ordering::Relaxed)),
            ("commands".into(), c.commands.load(Ordering::Relaxed)),
            ("duplicates".into(), c.duplicates.load(Ordering::Relaxed)),
            ("upserted".into(), c.upserted.load(Ordering::Relaxed)),
            ("retries".into(), s.metrics.retries()),
            ("bytes".into(), c.bytes.load(Ordering::Relaxed)),
        ])
    }
}

impl BatchSink for Writer {
    fn write(&mut self, batch: RecordBatch) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.write_batch(batch))
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<Vec<(String, u64)>>> {
        Box::pin(self.finish_all())
    }
}

/// One statement the server refused.
struct Refused {
    index: usize,
    code: i32,
    message: String,
}

/// What the server answered to one command.
struct Reply {
    /// Documents inserted, or statements that matched or upserted.
    n: u64,
    upserted: u64,
    refused: Vec<Refused>,
}

async fn run(shared: &Shared, stmts: &[&Stmt], ordered: bool) -> Result<Reply> {
    let cmd = statement::command(
        shared.op,
        &shared.collection,
        stmts,
        ordered,
        shared.write_concern.as_ref(),
    )?;
    shared.metrics.add_request();
    let command = async {
        shared
            .db
            .run_raw_command(cmd)
            .await
            .map_err(|e| errors::driver("write", &shared.ns, e))
    };
    let reply = deadline::within(shared.request_timeout, "write", &shared.ns, command).await?;
    parse_reply(&reply, &shared.ns)
}

fn parse_reply(reply: &Document, ns: &str) -> Result<Reply> {
    let int = |v: Option<&Bson>| match v {
        Some(Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
        Some(Bson::Double(n)) => *n as u64,
        _ => 0,
    };
    if let Ok(wce) = reply.get_document("writeConcernError") {
        let code = int(wce.get("code")) as i32;
        return Err(Error::new(
            errors::code_kind(code),
            SYSTEM,
            "write",
            format!(
                "{ns}: the write concern was not satisfied (code {code}: {}); the documents may be stored on fewer members than asked",
                wce.get_str("errmsg").unwrap_or("")
            ),
        ));
    }
    let refused = match reply.get_array("writeErrors") {
        Ok(list) => list
            .iter()
            .filter_map(Bson::as_document)
            .map(|e| Refused {
                index: int(e.get("index")) as usize,
                code: int(e.get("code")) as i32,
                message: e.get_str("errmsg").unwrap_or("").to_string(),
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(Reply {
        n: int(reply.get("n")),
        upserted: reply.get_array("upserted").map_or(0, |u| u.len() as u64),
        refused,
    })
}

/// Sends one bulk, retrying transient errors, and turns refused documents into one error
/// that names their keys and the server's reasons.
async fn send(shared: Arc<Shared>, stmts: Vec<Stmt>, bytes: u64) -> Result<()> {
    let total = stmts.len();
    let written_before = shared.counters.rows.load(Ordering::Relaxed);
    let attempts = AtomicU64::new(0);
    let stmts = Arc::new(stmts);
    let outcome = spark_ds_core::retry(&shared.policy, &shared.metrics, SYSTEM, "write", || {
        let shared = shared.clone();
        let stmts = stmts.clone();
        let resend = attempts.fetch_add(1, Ordering::Relaxed) > 0;
        async move {
            match shared.op {
                OperationType::Insert => insert(&shared, &stmts, resend).await,
                _ => update(&shared, &stmts).await,
            }
        }
    })
    .await?;
    let c = &shared.counters;
    c.rows.fetch_add(outcome.landed, Ordering::Relaxed);
    c.duplicates
        .fetch_add(outcome.duplicates, Ordering::Relaxed);
    c.upserted.fetch_add(outcome.upserted, Ordering::Relaxed);
    c.commands.fetch_add(1, Ordering::Relaxed);
    c.bytes.fetch_add(bytes, Ordering::Relaxed);
    shared.metrics.add_rows(outcome.landed);
    shared.metrics.add_bytes(bytes);
    if outcome.refused.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> = outcome
        .refused
        .iter()
        .take(MAX_KEYS_SHOWN)
        .map(|r| {
            format!(
                "{} (code {}: {})",
                stmts[r.index].key(shared.op, &shared.key_names),
                r.code,
                r.message
            )
        })
        .collect();
    let more = outcome.refused.len().saturating_sub(MAX_KEYS_SHOWN);
    let how = if outcome.stopped {
        format!(
            "ordered write: the server stopped at the first refused document, so {} of the {total} documents of this bulk landed and the rest were not sent",
            outcome.landed
        )
    } else {
        format!(
            "unordered write: the other documents of this bulk were written ({} of {total} landed)",
            outcome.landed
        )
    };
    let kind = if outcome
        .refused
        .iter()
        .all(|r| r.code == errors::code::DUPLICATE_KEY)
    {
        ErrorKind::AlreadyExists
    } else {
        ErrorKind::Data
    };
    let hint = if kind == ErrorKind::AlreadyExists && shared.op == OperationType::Insert {
        "; set option `ignoreDuplicatesOnInsert` to skip existing documents, or use operationType `replace`"
    } else {
        ""
    };
    Err(Error::new(
        kind,
        SYSTEM,
        "write",
        format!(
            "{}: {} document(s) refused: {}{}; {how}; {} documents of this task were written before this bulk{hint}",
            shared.ns,
            outcome.refused.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            },
            written_before,
        ),
    ))
}

struct Outcome {
    landed: u64,
    duplicates: u64,
    upserted: u64,
    refused: Vec<Refused>,
    /// An ordered bulk stopped at the first refused document.
    stopped: bool,
}

async fn insert(shared: &Shared, stmts: &[Stmt], resend: bool) -> Result<Outcome> {
    // A resend after a cut is unordered: every document not yet stored must land.
    let ordered = shared.ordered && !resend;
    let mut out = Outcome {
        landed: 0,
        duplicates: 0,
        upserted: 0,
        refused: Vec::new(),
        stopped: false,
    };
    let mut start = 0;
    while start < stmts.len() {
        let part: Vec<&Stmt> = stmts[start..].iter().collect();
        let reply = run(shared, &part, ordered).await?;
        out.landed += reply.n;
        // On a resend, a duplicate key may be a document the cut attempt stored: it is,
        // when the collection holds this very document under its `_id`.
        let stored_before = if resend {
            let duplicates: Vec<(usize, &Stmt)> = reply
                .refused
                .iter()
                .filter(|r| r.code == errors::code::DUPLICATE_KEY)
                .filter_map(|r| part.get(r.index).map(|s| (start + r.index, *s)))
                .collect();
            stored(shared, &duplicates).await?
        } else {
            Vec::new()
        };
        let mut next = stmts.len();
        for r in reply.refused {
            let index = start + r.index;
            let duplicate = r.code == errors::code::DUPLICATE_KEY;
            if duplicate && stored_before.contains(&index) {
                out.landed += 1;
            } else if duplicate && shared.ignore_duplicates {
                out.duplicates += 1;
                if ordered {
                    // The server stopped here: go on after the skipped document.
                    next = index + 1;
                }
            } else {
                out.refused.push(Refused { index, ..r });
                if ordered {
                    out.stopped = true;
                }
            }
        }
        if out.stopped {
            break;
        }
        start = next;
    }
    Ok(out)
}

/// Which of `stmts` (insert statements of one bulk, with their indexes in it) the
/// collection holds exactly as they are: their indexes.
async fn stored(shared: &Shared, stmts: &[(usize, &Stmt)]) -> Result<Vec<usize>> {
    if stmts.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids = Vec::with_capacity(stmts.len());
    let mut wanted = Vec::with_capacity(stmts.len());
    for (index, stmt) in stmts {
        let doc = Document::try_from(stmt.body.as_ref()).map_err(bson_out::malformed)?;
        if let Some(id) = doc.get("_id") {
            ids.push(id.clone());
            wanted.push((*index, doc));
        }
    }
    let operation = "write (checking a resent bulk)";
    let check = |e| errors::driver(operation, &shared.ns, e);
    let found = async {
        let mut cursor = shared
            .db
            .collection::<Document>(&shared.collection)
            .find(doc! { "_id": { "$in": ids } })
            .await
            .map_err(check)?;
        let mut found = Vec::new();
        while let Some(doc) = cursor.next().await {
            found.push(doc.map_err(check)?);
        }
        Ok(found)
    };
    let found = deadline::within(shared.request_timeout, operation, &shared.ns, found).await?;
    // Equal as documents: field order aside (the server puts `_id` first).
    Ok(wanted
        .into_iter()
        .filter(|(_, w)| found.iter().any(|f| f == w))
        .map(|(index, _)| index)
        .collect())
}

async fn update(shared: &Shared, stmts: &[Stmt]) -> Result<Outcome> {
    let all: Vec<&Stmt> = stmts.iter().collect();
    let reply = run(shared, &all, shared.ordered).await?;
    if reply.refused.is_empty() {
        return Ok(Outcome {
            landed: stmts.len() as u64,
            duplicates: 0,
            upserted: reply.upserted,
            refused: Vec::new(),
            stopped: false,
        });
    }
    if !shared.ferretdb {
        let landed = if shared.ordered {
            reply.refused.first().map_or(0, |r| r.index) as u64
        } else {
            (stmts.len() - reply.refused.len()) as u64
        };
        return Ok(Outcome {
            landed,
            duplicates: 0,
            upserted: reply.upserted,
            refused: reply.refused,
            stopped: shared.ordered,
        });
    }
    // FerretDB stops at a failing statement whatever `ordered` says and reports it without
    // its true index: send the statements one by one to learn which failed. Statements that
    // already ran are applied again with the same values, which changes nothing.
    log::info!(target: LOG, "{}: a statement of an update bulk failed; resending one by one to find it", shared.ns);
    let mut out = Outcome {
        landed: 0,
        duplicates: 0,
        upserted: 0,
        refused: Vec::new(),
        stopped: false,
    };
    for (index, stmt) in stmts.iter().enumerate() {
        let reply = run(shared, &[stmt], true).await?;
        out.upserted += reply.upserted;
        match reply.refused.into_iter().next() {
            None => out.landed += 1,
            Some(r) => {
                out.refused.push(Refused { index, ..r });
                if shared.ordered {
                    out.stopped = true;
                    break;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use mongodb::bson::rawdoc;

    use super::*;

    /// The harness's server (`integration/services.sh up mongodb`).
    fn live_cfg(collection: &str) -> Config {
        let extra = [
            ("database", "sdm_write"),
            ("collection", collection),
            ("operationtype", "insert"),
        ];
        Config::parse(&spark_ds_test_env::options("mongodb", &extra)).unwrap()
    }

    async fn shared(cfg: &Config, ignore_duplicates: bool) -> Shared {
        let client = client::client(cfg).await.unwrap();
        Shared {
            db: client.database(cfg.database().unwrap()),
            collection: cfg.collection().unwrap().to_string(),
            ns: cfg.namespace().unwrap(),
            op: OperationType::Insert,
            ordered: true,
            ignore_duplicates,
            write_concern: None,
            ferretdb: true,
            key_names: vec!["_id".into()],
            policy: retry_policy(cfg),
            request_timeout: cfg.timeouts.request_timeout,
            metrics: TaskMetrics::new(),
            counters: Counters::default(),
        }
    }

    fn stmt(id: i32, v: &str) -> Stmt {
        Stmt {
            body: rawdoc! { "_id": id, "v": v },
        }
    }

    #[test]
    #[ignore = "needs the services harness (make rust-test)"]
    fn a_resend_counts_as_landed_only_the_documents_this_bulk_stored() {
        let name = format!("resend_{}", std::process::id());
        let cfg = live_cfg(&name);
        spark_ds_core::runtime::block_on(async {
            let plain = shared(&cfg, false).await;
            let coll = plain.db.collection::<Document>(&name);
            coll.drop().await.unwrap();
            // `_id` 1 as the cut attempt stored it; `_id` 2 was there before the write.
            coll.insert_many([doc! { "_id": 1, "v": "a" }, doc! { "_id": 2, "v": "other" }])
                .await
                .unwrap();
            let bulk = [stmt(1, "a"), stmt(2, "b"), stmt(3, "c")];

            let out = insert(&plain, &bulk, true).await.unwrap();
            assert_eq!((out.landed, out.duplicates), (2, 0));
            let refused: Vec<(usize, i32)> =
                out.refused.iter().map(|r| (r.index, r.code)).collect();
            assert_eq!(refused, [(1, errors::code::DUPLICATE_KEY)]);

            // With ignoreDuplicatesOnInsert the genuine duplicate is skipped, not "landed".
            coll.delete_one(doc! { "_id": 3 }).await.unwrap();
            let skipping = shared(&cfg, true).await;
            let out = insert(&skipping, &bulk, true).await.unwrap();
            assert_eq!((out.landed, out.duplicates, out.refused.len()), (2, 1, 0));

            // A first attempt knows nothing of a cut: a duplicate is refused, the ordered
            // bulk stops there.
            coll.delete_one(doc! { "_id": 3 }).await.unwrap();
            let out = insert(&plain, &bulk, false).await.unwrap();
            assert!(out.stopped);
            assert_eq!(out.refused[0].index, 0);

            let stored = coll.count_documents(doc! {}).await.unwrap();
            assert_eq!(
                stored, 2,
                "the stopped bulk wrote nothing after its first document"
            );
            coll.drop().await.unwrap();
        })
        .unwrap();
    }
}
