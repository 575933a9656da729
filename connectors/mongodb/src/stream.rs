//! Stream reads by polling: documents are read in the order of one field
//! (`stream.poll.field`, default `_id`), ties broken by `_id`, so every micro-batch is the
//! exact range `(start, end]` of that order and a replay reads the same documents.
//!
//! # Why the ranges are exact
//! An offset is a [`Position`]: just after the document whose `(field, _id)` pair it holds
//! (both in canonical extended JSON, so every BSON type round-trips through Spark's
//! checkpoint). A micro-batch reads `after(start) ∧ upto(end)`, where
//! `after(p) = {$or: [{f: {$gt: v}}, {f: v, _id: {$gt: id}}]}` and `upto` is its `$lte`
//! mirror; consecutive batches share their bound, so no document is in two batches and none
//! between them is skipped. MongoDB's comparisons only match values of the bound's type
//! bracket, so the stream reads documents whose field holds the type of its values and
//! never those where it is missing, null or of another type; the field must be
//! single-valued (no arrays). What the order cannot protect against is a writer that adds a
//! document *below* a bound already read — a field that is not monotonic; the option's doc
//! says so.

use futures::TryStreamExt as _;
use mongodb::Collection;
use mongodb::bson::{Bson, Document, doc};
use serde_json::json;
use spark_ds_core::offsets::Position;
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::client;
use crate::errors;
use crate::options::{Config, StartAt, StreamMode};

/// The offset kind in checkpoints.
const KIND: &str = "mongodb-poll";

fn check_mode(cfg: &Config) -> Result<()> {
    match cfg.stream_mode {
        StreamMode::Poll => Ok(()),
        StreamMode::ChangeStream => Err(Error::internal(
            SYSTEM,
            "stream",
            "a change-stream read reached the polling stream",
        )),
    }
}

/// The field's value and the tie-breaking `_id` of a document, as a position after it.
fn position_of(cfg: &Config, doc: &Document) -> Result<Position> {
    let field = cfg.stream_field();
    let value = lookup(doc, field).cloned().ok_or_else(|| {
        Error::internal(
            SYSTEM,
            "stream",
            format!("a polled document has no `{field}`"),
        )
    })?;
    let tie = if field == "_id" {
        None
    } else {
        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
        Some(encode(id))
    };
    Ok(Position::After {
        key: encode(value),
        tie,
    })
}

fn lookup<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut value = doc.get(parts.next()?)?;
    for part in parts {
        value = value.as_document()?.get(part)?;
    }
    Some(value)
}

fn encode(value: Bson) -> String {
    value.into_canonical_extjson().to_string()
}

fn decode(text: &str) -> Result<Bson> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| bad_offset(text, e))?;
    Bson::try_from(value).map_err(|e| bad_offset(text, e))
}

fn bad_offset(text: &str, e: impl std::fmt::Display) -> Error {
    Error::config(
        SYSTEM,
        format!(
            "the stream's checkpoint holds the value {text}, which is not extended JSON ({e}); start the query with a new checkpointLocation"
        ),
    )
}

/// Documents strictly after `p` in `(field, _id)` order.
fn after(field: &str, p: &Position) -> Result<Document> {
    bound(field, p, "$gt")
}

/// Documents up to and including `p` in `(field, _id)` order.
fn upto(field: &str, p: &Position) -> Result<Document> {
    bound(field, p, "$lte")
}

fn bound(field: &str, p: &Position, op: &str) -> Result<Document> {
    let strict = if op == "$gt" { "$gt" } else { "$lt" };
    match p {
        Position::Start if op == "$gt" => {
            Ok(doc! { field: { "$exists": true, "$ne": Bson::Null } })
        }
        Position::Start => Ok(doc! { "_id": { "$exists": false } }),
        Position::After { key, tie: None } => Ok(doc! { field: { op: decode(key)? } }),
        Position::After {
            key,
            tie: Some(tie),
        } => {
            let value = decode(key)?;
            Ok(doc! { "$or": [
                { field: { strict: value.clone() } },
                { field: value, "_id": { op: decode(tie)? } },
            ] })
        }
    }
}

async fn collection(cfg: &Config) -> Result<Collection<Document>> {
    let client = client::client(cfg).await?;
    Ok(client
        .database(cfg.database()?)
        .collection(cfg.collection()?))
}

/// The first document of `pipeline`, if any.
async fn first(cfg: &Config, pipeline: Vec<Document>) -> Result<Option<Document>> {
    let ns = cfg.namespace()?;
    let coll = collection(cfg).await?;
    let mut cursor = coll
        .aggregate(pipeline)
        .await
        .map_err(|e| errors::driver("stream offsets", &ns, e))?;
    cursor
        .try_next()
        .await
        .map_err(|e| errors::driver("stream offsets", &ns, e))
}

/// The position of the document `skip` places after `start` (0: the first), or of the last
/// one when `skip` is `None`, among documents up to `cap`.
async fn find_position(
    cfg: &Config,
    start: &Position,
    cap: Option<&Position>,
    skip: Option<u64>,
) -> Result<Option<Position>> {
    let field = cfg.stream_field();
    let mut conditions = vec![after(field, start)?];
    if let Some(cap) = cap {
        conditions.push(upto(field, cap)?);
    }
    let direction = if skip.is_some() { 1 } else { -1 };
    let mut pipeline = vec![
        doc! { "$match": { "$and": conditions } },
        doc! { "$sort": { field: direction, "_id": direction } },
    ];
    if let Some(n) = skip.filter(|n| *n > 0) {
        pipeline.push(doc! { "$skip": n as i64 });
    }
    pipeline.push(doc! { "$limit": 1 });
    pipeline.push(doc! { "$project": { field: 1, "_id": 1 } });
    first(cfg, pipeline)
        .await?
        .map(|d| position_of(cfg, &d))
        .transpose()
}

/// Where a new query starts: before every document, or after the last one.
pub async fn initial_offset(cfg: &Config) -> Result<String> {
    check_mode(cfg)?;
    let position = match cfg.stream_start_at {
        StartAt::Earliest => Position::Start,
        StartAt::Latest => find_position(cfg, &Position::Start, None, None)
            .await?
            .unwrap_or(Position::Start),
    };
    Ok(position.to_json(KIND))
}

/// The end of the next micro-batch: at most `max_rows` documents after `start` (all when
/// `None`), never beyond `cap` (the `Trigger.AvailableNow` target); `start` itself when
/// nothing is new.
pub async fn latest_offset(
    cfg: &Config,
    start: Option<&str>,
    max_rows: Option<u64>,
    cap: Option<&str>,
) -> Result<String> {
    check_mode(cfg)?;
    let start = match start {
        Some(text) => Position::from_json(SYSTEM, KIND, text)?,
        None => Position::Start,
    };
    let cap = cap
        .map(|c| Position::from_json(SYSTEM, KIND, c))
        .transpose()?;
    let skip = max_rows.map(|n| n.saturating_sub(1));
    let mut end = find_position(cfg, &start, cap.as_ref(), skip).await?;
    if end.is_none() && skip.is_some() {
        // Fewer than `max_rows` new documents: the batch ends at the last one.
        end = find_position(cfg, &start, cap.as_ref(), None).await?;
    }
    Ok(end.unwrap_or(start).to_json(KIND))
}

/// The partition of one micro-batch `(start, end]` in the reader's JSON (none when empty).
pub fn partitions(cfg: &Config, start: &str, end: &str) -> Result<Vec<String>> {
    check_mode(cfg)?;
    let start = Position::from_json(SYSTEM, KIND, start)?;
    let end = Position::from_json(SYSTEM, KIND, end)?;
    if start == end || end == Position::Start {
        return Ok(vec![]);
    }
    let field = cfg.stream_field();
    let filter = doc! { "$and": [after(field, &start)?, upto(field, &end)?] };
    Ok(vec![
        json!({
            "index": 0,
            "count": 1,
            "match": Bson::Document(filter).into_canonical_extjson(),
        })
        .to_string(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    fn cfg(field: &str) -> Config {
        let raw = vec![
            ("database".to_string(), "d".to_string()),
            ("collection".to_string(), "c".to_string()),
            ("stream.poll.field".to_string(), field.to_string()),
        ];
        Config::parse(&raw).unwrap()
    }

    #[test]
    fn positions_round_trip_every_value_type() {
        let c = cfg("at");
        let at = mongodb::bson::DateTime::from_millis(1_700_000_000_123);
        let id = ObjectId::new();
        let p = position_of(&c, &doc! { "_id": id, "at": at }).unwrap();
        let back = Position::from_json(SYSTEM, KIND, &p.to_json(KIND)).unwrap();
        assert_eq!(back, p);
        let Position::After {
            key,
            tie: Some(tie),
        } = back
        else {
            panic!("{back:?}")
        };
        assert_eq!(decode(&key).unwrap(), Bson::DateTime(at));
        assert_eq!(decode(&tie).unwrap(), Bson::ObjectId(id));
    }

    #[test]
    fn bounds_break_ties_by_id() {
        let p = Position::After {
            key: encode(Bson::Int64(5)),
            tie: Some(encode(Bson::Int32(2))),
        };
        assert_eq!(
            after("seq", &p).unwrap(),
            doc! { "$or": [ { "seq": { "$gt": 5_i64 } }, { "seq": 5_i64, "_id": { "$gt": 2 } } ] }
        );
        assert_eq!(
            upto("seq", &p).unwrap(),
            doc! { "$or": [ { "seq": { "$lt": 5_i64 } }, { "seq": 5_i64, "_id": { "$lte": 2 } } ] }
        );
        let by_id = Position::After {
            key: encode(Bson::Int32(9)),
            tie: None,
        };
        assert_eq!(after("_id", &by_id).unwrap(), doc! { "_id": { "$gt": 9 } });
    }

    #[test]
    fn an_empty_range_plans_nothing() {
        let c = cfg("_id");
        let start = Position::Start.to_json(KIND);
        assert!(partitions(&c, &start, &start).unwrap().is_empty());
        let end = Position::After {
            key: encode(Bson::Int32(3)),
            tie: None,
        }
        .to_json(KIND);
        let planned = partitions(&c, &start, &end).unwrap();
        assert_eq!(planned.len(), 1);
        assert!(planned[0].contains("$lte"), "{}", planned[0]);
    }

    #[test]
    fn a_foreign_checkpoint_is_refused() {
        let c = cfg("_id");
        let e = partitions(&c, "{\"kind\":\"other\"}", "{}").unwrap_err();
        assert!(
            e.message().contains("checkpointLocation"),
            "{}",
            e.message()
        );
    }
}
