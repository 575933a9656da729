//! Rows to the statements of bulk `insert` and `update` commands, written as BSON bytes in
//! one pass per row, and the commands that carry them.

use arrow_array::RecordBatch;
use mongodb::bson::RawDocumentBuf;
use mongodb::bson::oid::ObjectId;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::bson_out::{self, Key, tag};
use crate::from_arrow::{Encoder, key_of};
use crate::options::OperationType;

/// Largest document the server stores.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;

/// One document of a bulk command: the document (insert) or the update statement
/// (`{q, u, upsert, multi}`).
pub(crate) struct Stmt {
    pub(crate) body: RawDocumentBuf,
}

impl Stmt {
    /// The fields `names` that name this statement's document in messages, as
    /// `{name: value, …}`: from the document (insert) or the statement's filter.
    pub(crate) fn key(&self, op: OperationType, names: &[String]) -> String {
        match op {
            OperationType::Insert => key_of(&self.body, names),
            _ => match self.body.get_document("q") {
                Ok(filter) => key_of(filter, names),
                Err(_) => "(no filter)".to_string(),
            },
        }
    }
}

/// Builds the statement of each row for one operation.
pub(crate) struct Statements {
    pub(crate) enc: Encoder,
    /// The id fields (`idFieldList`) as column indexes.
    ids: Vec<usize>,
    key_names: Vec<String>,
    op: OperationType,
    upsert: bool,
    /// The DataFrame's `_id` column.
    id_column: Option<usize>,
    /// Bytes to reserve for the next document: the size of the last one, so that a row is
    /// written into one allocation.
    size_hint: usize,
}

impl Statements {
    /// `ids`: the id fields as column indexes; none means documents are named by `_id`.
    pub(crate) fn new(
        enc: Encoder,
        ids: Vec<usize>,
        op: OperationType,
        upsert: bool,
    ) -> Statements {
        let id_column = enc.column_index("_id");
        let key_names = if ids.is_empty() {
            vec!["_id".to_string()]
        } else {
            ids.iter()
                .map(|i| enc.column_name(*i).to_string())
                .collect()
        };
        Statements {
            enc,
            ids,
            key_names,
            op,
            upsert,
            id_column,
            size_hint: 64,
        }
    }

    /// The fields that name a document in messages.
    pub(crate) fn key_names(&self) -> &[String] {
        &self.key_names
    }

    /// The statement of `row`; `row_label` is its number within the task, for messages.
    pub(crate) fn statement(
        &mut self,
        batch: &RecordBatch,
        row: usize,
        row_label: u64,
    ) -> Result<Stmt> {
        let mut out = Vec::with_capacity(self.size_hint);
        let at = bson_out::begin(&mut out);
        match self.op {
            OperationType::Insert => self.insert(batch, row, &mut out)?,
            OperationType::Replace | OperationType::Update => {
                let filter = self.filter(batch, row, row_label)?;
                bson_out::document(&mut out, Key::Name("q"), &filter);
                Key::Name("u").put(&mut out, tag::DOCUMENT);
                let u = bson_out::begin(&mut out);
                if self.op == OperationType::Replace {
                    self.enc.write_fields(batch, row, |_| true, &mut out)?;
                } else {
                    self.update(batch, row, &filter, &mut out)?;
                }
                bson_out::end(&mut out, u)?;
                Key::Name("upsert").put_fixed(&mut out, tag::BOOLEAN, &[u8::from(self.upsert)]);
                Key::Name("multi").put_fixed(&mut out, tag::BOOLEAN, &[0]);
            }
        }
        bson_out::end(&mut out, at)?;
        let stmt = Stmt {
            body: bson_out::finish(out)?,
        };
        let size = stmt.body.as_bytes().len();
        if size > MAX_DOCUMENT_BYTES {
            return Err(Error::data(
                SYSTEM,
                "write",
                format!(
                    "the document {} (row {row_label} of this task) has {size} bytes, more than the server's 16 MiB limit",
                    stmt.key(self.op, &self.key_names),
                ),
            ));
        }
        self.size_hint = size;
        Ok(stmt)
    }

    /// The document's fields. Every document gets its `_id` here, before the first
    /// attempt, so that a resend after a cut carries the same `_id`s.
    fn insert(&self, batch: &RecordBatch, row: usize, out: &mut Vec<u8>) -> Result<()> {
        let written = match self.id_column {
            None => false,
            // A null `_id` is written as null, unless `ignoreNullValues` leaves it out.
            Some(i) => !self.enc.is_null(batch, i, row) || !self.enc.ignores_nulls(),
        };
        if !written {
            Key::Name("_id").put_fixed(out, tag::OBJECT_ID, &ObjectId::new().bytes());
        }
        self.enc.write_fields(batch, row, |_| true, out)
    }

    /// `{idField: value, …}`, which finds the row's document: no id field may be null.
    fn filter(&self, batch: &RecordBatch, row: usize, row_label: u64) -> Result<RawDocumentBuf> {
        let mut out = Vec::with_capacity(32);
        let at = bson_out::begin(&mut out);
        for &i in &self.ids {
            if self.enc.is_null(batch, i, row) {
                return Err(Error::data(
                    SYSTEM,
                    "write",
                    format!(
                        "row {row_label} of this task has a null `{}`: operationType `{}` finds documents by option `idFieldList` ({}), so none of them may be null",
                        self.enc.column_name(i),
                        self.op.name(),
                        self.key_names.join(", ")
                    ),
                ));
            }
            self.enc.write_column(batch, i, row, &mut out)?;
        }
        bson_out::end(&mut out, at)?;
        bson_out::finish(out)
    }

    /// The fields of an update document: `$set` of every column but the id fields, and
    /// `$setOnInsert` of an `_id` that is not an id field (it can only be given to a new
    /// document).
    fn update(
        &self,
        batch: &RecordBatch,
        row: usize,
        filter: &RawDocumentBuf,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        let is_id = |i: usize| self.ids.contains(&i);
        Key::Name("$set").put(out, tag::DOCUMENT);
        let set = bson_out::begin(out);
        self.enc
            .write_fields(batch, row, |i| !is_id(i) && Some(i) != self.id_column, out)?;
        if out.len() == set + 4 {
            // Nothing to change: setting the id fields to their own values makes a
            // statement the server accepts, and still inserts on upsert.
            let fields = filter.as_bytes();
            out.extend_from_slice(&fields[4..fields.len() - 1]);
        }
        bson_out::end(out, set)?;
        if let Some(i) = self.id_column.filter(|i| !is_id(*i)) {
            let before = out.len();
            Key::Name("$setOnInsert").put(out, tag::DOCUMENT);
            let on_insert = bson_out::begin(out);
            self.enc.write_column(batch, i, row, out)?;
            if out.len() == on_insert + 4 {
                out.truncate(before);
            } else {
                bson_out::end(out, on_insert)?;
            }
        }
        Ok(())
    }
}

/// The bulk command of `stmts` on `collection`: `insert` with `documents`, or `update`
/// with `updates`. Each statement's bytes are copied once, into the command.
pub(crate) fn command(
    op: OperationType,
    collection: &str,
    stmts: &[&Stmt],
    ordered: bool,
    write_concern: Option<&RawDocumentBuf>,
) -> Result<RawDocumentBuf> {
    let size: usize = stmts.iter().map(|s| s.body.as_bytes().len() + 8).sum();
    let mut out = Vec::with_capacity(size + collection.len() + 64);
    let at = bson_out::begin(&mut out);
    let (name, list) = match op {
        OperationType::Insert => ("insert", "documents"),
        _ => ("update", "updates"),
    };
    Key::Name(name).put(&mut out, tag::STRING);
    bson_out::string(&mut out, collection)?;
    Key::Name(list).put(&mut out, tag::ARRAY);
    let items = bson_out::begin(&mut out);
    for (i, s) in stmts.iter().enumerate() {
        bson_out::document(&mut out, Key::Index(i), &s.body);
    }
    bson_out::end(&mut out, items)?;
    Key::Name("ordered").put_fixed(&mut out, tag::BOOLEAN, &[u8::from(ordered)]);
    if let Some(wc) = write_concern {
        bson_out::document(&mut out, Key::Name("writeConcern"), wc);
    }
    bson_out::end(&mut out, at)?;
    bson_out::finish(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use mongodb::bson::{Bson, Document, doc};

    use super::*;
    use crate::Config;
    use crate::from_arrow::Limits;

    fn statements(op: &str, extra: &[(&str, &str)], b: &RecordBatch) -> Statements {
        let mut raw = vec![("operationtype".to_string(), op.to_string())];
        raw.extend(extra.iter().map(|(k, v)| (k.to_lowercase(), v.to_string())));
        let cfg = Config::parse(&raw).unwrap();
        let enc = Encoder::new(&cfg, &b.schema(), Limits::default()).unwrap();
        let ids: Vec<usize> = cfg
            .id_fields
            .iter()
            .filter_map(|n| enc.column_index(n))
            .collect();
        Statements::new(enc, ids, cfg.operation_type, cfg.upsert_document)
    }

    fn as_doc(s: &Stmt) -> Document {
        Document::try_from(s.body.as_ref()).unwrap()
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).unwrap()
    }

    #[test]
    fn an_insert_without_id_gets_one_first() {
        let b = batch(vec![(
            "v",
            Arc::new(StringArray::from(vec!["a"])) as ArrayRef,
        )]);
        let mut st = statements("insert", &[], &b);
        let d = as_doc(&st.statement(&b, 0, 0).unwrap());
        assert_eq!(d.keys().collect::<Vec<_>>(), ["_id", "v"]);
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))));
    }

    #[test]
    fn a_null_id_is_kept_unless_nulls_are_left_out() {
        let b = batch(vec![
            (
                "_id",
                Arc::new(Int64Array::from(vec![Some(7), None])) as ArrayRef,
            ),
            ("v", Arc::new(StringArray::from(vec![Some("a"), None]))),
        ]);
        let mut st = statements("insert", &[], &b);
        assert_eq!(
            as_doc(&st.statement(&b, 0, 0).unwrap()),
            doc! { "_id": 7i64, "v": "a" }
        );
        assert_eq!(
            as_doc(&st.statement(&b, 1, 1).unwrap()),
            doc! { "_id": Bson::Null, "v": Bson::Null }
        );
        let mut ignoring = statements("insert", &[("ignoreNullValues", "true")], &b);
        let d = as_doc(&ignoring.statement(&b, 1, 1).unwrap());
        assert!(matches!(d.get("_id"), Some(Bson::ObjectId(_))), "{d}");
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn replace_and_update_statements_find_by_the_id_fields() {
        let b = batch(vec![
            ("_id", Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef),
            ("k", Arc::new(StringArray::from(vec!["x", "y"]))),
            ("v", Arc::new(StringArray::from(vec![Some("a"), None]))),
        ]);
        let mut replace = statements("replace", &[("idFieldList", "k")], &b);
        let s = replace.statement(&b, 0, 0).unwrap();
        assert_eq!(
            as_doc(&s),
            doc! { "q": { "k": "x" }, "u": { "_id": 1i64, "k": "x", "v": "a" }, "upsert": true, "multi": false }
        );
        assert_eq!(
            s.key(OperationType::Replace, &["k".to_string()]),
            "{k: \"x\"}"
        );
        let mut update = statements("update", &[("idFieldList", "k")], &b);
        assert_eq!(
            as_doc(&update.statement(&b, 1, 1).unwrap()),
            doc! {
                "q": { "k": "y" },
                "u": { "$set": { "v": Bson::Null }, "$setOnInsert": { "_id": 2i64 } },
                "upsert": true,
                "multi": false,
            }
        );
    }

    #[test]
    fn an_update_with_nothing_to_set_sets_its_id_fields() {
        let b = batch(vec![(
            "_id",
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
        )]);
        let mut update = statements("update", &[], &b);
        assert_eq!(
            as_doc(&update.statement(&b, 0, 0).unwrap()),
            doc! { "q": { "_id": 1i64 }, "u": { "$set": { "_id": 1i64 } }, "upsert": true, "multi": false }
        );
    }

    #[test]
    fn a_null_id_field_fails_replace_naming_the_row() {
        let b = batch(vec![(
            "_id",
            Arc::new(Int64Array::from(vec![None::<i64>])) as ArrayRef,
        )]);
        let mut replace = statements("replace", &[], &b);
        let e = replace.statement(&b, 0, 41).err().unwrap();
        assert!(
            e.message().contains("row 41") && e.message().contains("null `_id`"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn a_command_carries_its_statements_in_order() {
        let stmts: Vec<Stmt> = (0..12)
            .map(|i| Stmt {
                body: mongodb::bson::rawdoc! { "_id": i },
            })
            .collect();
        let refs: Vec<&Stmt> = stmts.iter().collect();
        let wc = mongodb::bson::rawdoc! { "w": "majority" };
        let cmd = command(OperationType::Insert, "c", &refs, false, Some(&wc)).unwrap();
        let docs: Vec<Bson> = (0..12).map(|i| Bson::Document(doc! { "_id": i })).collect();
        assert_eq!(
            Document::try_from(cmd.as_ref()).unwrap(),
            doc! { "insert": "c", "documents": docs, "ordered": false, "writeConcern": { "w": "majority" } }
        );
    }
}
