//! Read partitions: ranges of one field (`partitioner.options.partition.field`, default
//! `_id`) whose union is the whole collection and which never overlap.
//!
//! # Exact ranges
//! Boundaries `b1 < b2 < … < bn` are values of the field taken from one BSON type bracket
//! (numbers, strings, ObjectIds, dates, …). With `Ai = {field: {$gte: bi}}` the partitions
//! are `¬A1`, `A1 ∧ ¬A2`, …, `An`. MongoDB's range operators only match values of the
//! boundary's bracket, so `A1 ⊇ A2 ⊇ … ⊇ An`, and these sets are exact complements of each
//! other: every document is in exactly one partition. A document whose field is missing,
//! null or of another bracket matches no `Ai` and falls into the first partition (`¬A1`),
//! so no "everything else" query is needed. This holds for array values too (`$gte` matches
//! when some element does, and "some element ≥ b(i+1)" implies "some element ≥ bi"), so a
//! partition field holding arrays is read exactly, only less evenly split.
//!
//! # Choosing `auto`
//! `auto` reads in one partition when the server is FerretDB (detected by `buildInfo`'s
//! `ferretdbVersion`) or when the collection is smaller than one partition
//! (`partitioner.options.partition.size`), and otherwise splits like `paginateBySize`. On
//! FerretDB's SQLite backend a range on `_id` or a sort is not served by an index: every
//! partition's query and every boundary query reads the whole table, so N partitions cost
//! about N + N full scans against one for a single partition — a split never makes that
//! server faster and `auto` must never be slower than one partition. Measured on FerretDB
//! 1.24 (SQLite) with 200k documents with nested fields: reading all took 44 s, one
//! quarter by an `_id` range 22–23 s, one sorted boundary query (`sort + skip`) 33 s and a
//! count 42 s, so 4 partitions would cost ~3 × 33 s of planning plus ~90 s of reading.

use mongodb::bson::{Bson, Document, doc};
use mongodb::options::FindOneOptions;
use mongodb::{Collection, Database};
use serde_json::{Value, json};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::client;
use crate::errors;
use crate::options::{Config, Partitioner};

/// Most partitions a size-based split makes.
const MAX_PARTITIONS: u64 = 10_000;

const MB: f64 = 1024.0 * 1024.0;

/// One planned read partition: the `$match` that selects its documents (empty: all).
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    pub index: usize,
    pub count: usize,
    pub filter: Document,
}

impl Partition {
    /// JSON for Spark: the filter in canonical extended JSON, so every BSON type round-trips.
    pub fn to_json(&self) -> String {
        json!({
            "index": self.index,
            "count": self.count,
            "match": Bson::Document(self.filter.clone()).into_canonical_extjson(),
        })
        .to_string()
    }

    pub fn parse(text: &str) -> Result<Partition> {
        let bad = |why: String| Error::internal(SYSTEM, "read", format!("bad partition: {why}"));
        let value: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let index = value["index"]
            .as_u64()
            .ok_or_else(|| bad("no index".into()))? as usize;
        let count = value["count"]
            .as_u64()
            .ok_or_else(|| bad("no count".into()))? as usize;
        let filter = match Bson::try_from(value["match"].clone()) {
            Ok(Bson::Document(d)) => d,
            Ok(other) => return Err(bad(format!("match is not a document: {other}"))),
            Err(e) => return Err(bad(e.to_string())),
        };
        Ok(Partition {
            index,
            count,
            filter,
        })
    }
}

/// The partitions of `field` split at `bounds` (ascending, one type bracket); see the module
/// documentation for why they are exact.
pub fn ranges(field: &str, bounds: &[Bson]) -> Vec<Partition> {
    let mut filters = Vec::with_capacity(bounds.len() + 1);
    if bounds.is_empty() {
        filters.push(Document::new());
    } else {
        filters.push(doc! { field: { "$not": { "$gte": bounds[0].clone() } } });
        for pair in bounds.windows(2) {
            filters.push(doc! { field: {
                "$gte": pair[0].clone(),
                "$not": { "$gte": pair[1].clone() },
            } });
        }
        filters.push(doc! { field: { "$gte": bounds[bounds.len() - 1].clone() } });
    }
    let count = filters.len();
    filters
        .into_iter()
        .enumerate()
        .map(|(index, filter)| Partition {
            index,
            count,
            filter,
        })
        .collect()
}

/// The `$type` alias of a value's comparison bracket, for values that can bound a range.
/// Aliases both MongoDB and FerretDB know.
pub fn bracket(value: &Bson) -> Option<&'static str> {
    Some(match value {
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => "number",
        Bson::String(_) => "string",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        Bson::Timestamp(_) => "timestamp",
        Bson::Boolean(_) => "bool",
        Bson::Binary(_) => "binData",
        _ => return None,
    })
}

/// The value at a dotted path of a document.
pub fn get_path<'a>(doc: &'a Document, path: &str) -> Option<&'a Bson> {
    let mut parts = path.split('.');
    let mut current = doc.get(parts.next()?)?;
    for part in parts {
        current = current.as_document()?.get(part)?;
    }
    Some(current)
}

/// Server facts planning depends on.
struct Server {
    ferretdb: bool,
    label: String,
}

async fn server(db: &Database, ns: &str) -> Result<Server> {
    let info = db
        .run_command(doc! { "buildInfo": 1 })
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?;
    let version = info.get_str("version").unwrap_or("?").to_string();
    Ok(match info.get_str("ferretdbVersion") {
        Ok(v) => Server {
            ferretdb: true,
            label: format!("FerretDB {v}"),
        },
        Err(_) => Server {
            ferretdb: false,
            label: format!("MongoDB {version}"),
        },
    })
}

fn number(d: &Document, key: &str) -> Option<f64> {
    match d.get(key)? {
        Bson::Int32(v) => Some(f64::from(*v)),
        Bson::Int64(v) => Some(*v as f64),
        Bson::Double(v) => Some(*v),
        _ => None,
    }
}

/// (documents, bytes) of the collection from `collStats`.
async fn stats(db: &Database, collection: &str, ns: &str) -> Result<(u64, f64)> {
    let s = db
        .run_command(doc! { "collStats": collection })
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?;
    let count = number(&s, "count").unwrap_or(0.0).max(0.0);
    let avg = number(&s, "avgObjSize").unwrap_or(0.0).max(0.0);
    Ok((count as u64, count * avg))
}

/// Fails with NotFound when the collection does not exist (a read would silently be empty).
pub async fn check_exists(db: &Database, collection: &str, ns: &str) -> Result<()> {
    let names = db
        .list_collection_names()
        .filter(doc! { "name": collection })
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?;
    if names.iter().any(|n| n == collection) {
        Ok(())
    } else {
        Err(Error::not_found(
            SYSTEM,
            "plan partitions",
            format!(
                "collection `{ns}` does not exist: check options `database` and `collection` (names are case-sensitive)"
            ),
        ))
    }
}

/// Plans the read of `cfg`'s collection.
pub async fn plan(cfg: &Config) -> Result<Vec<Partition>> {
    let ns = cfg.namespace()?;
    let client = client::client(cfg).await?;
    let db = client.database(cfg.database()?);
    let collection_name = cfg.collection()?;
    check_exists(&db, collection_name, &ns).await?;
    let coll: Collection<Document> = db.collection(collection_name);
    let field = cfg.partition_field().to_string();
    let per_partition_bytes = cfg.partition_size_mb as f64 * MB;
    let planned = match cfg.partitioner {
        Partitioner::Single => ranges(&field, &[]),
        Partitioner::Auto => {
            let server = server(&db, &ns).await?;
            let (count, bytes) = stats(&db, collection_name, &ns).await?;
            if server.ferretdb || bytes <= per_partition_bytes || count < 2 {
                ranges(&field, &[])
            } else {
                let step = docs_per_partition(count, bytes, per_partition_bytes);
                ranges(
                    &field,
                    &paginate(&coll, &field, step, MAX_PARTITIONS, &ns).await?,
                )
            }
        }
        Partitioner::PaginateBySize => {
            let (count, bytes) = stats(&db, collection_name, &ns).await?;
            let step = docs_per_partition(count, bytes, per_partition_bytes);
            ranges(
                &field,
                &paginate(&coll, &field, step, MAX_PARTITIONS, &ns).await?,
            )
        }
        Partitioner::PaginateIntoPartitions => {
            let wanted = cfg.partition_count as u64;
            let bounds = match first_bracket(&coll, &field, &ns).await? {
                None => vec![],
                Some(ty) => {
                    let n = coll
                        .count_documents(doc! { &field: { "$type": ty } })
                        .await
                        .map_err(|e| errors::driver("plan partitions", &ns, e))?;
                    let step = n.div_ceil(wanted).max(1);
                    paginate(&coll, &field, step, wanted, &ns).await?
                }
            };
            ranges(&field, &bounds)
        }
        Partitioner::Sample => {
            let (count, bytes) = stats(&db, collection_name, &ns).await?;
            let parts = (bytes / per_partition_bytes).ceil().max(1.0) as u64;
            let bounds = if parts < 2 || count < 2 {
                // One partition's worth: still ask for one sample so a server without
                // `$sample` fails the same way on small and large collections.
                sample(&db, &coll, &field, 1, 1, &ns).await?;
                vec![]
            } else {
                let per = cfg.samples_per_partition as u64;
                sample(
                    &db,
                    &coll,
                    &field,
                    parts.min(MAX_PARTITIONS) * per,
                    per,
                    &ns,
                )
                .await?
            };
            ranges(&field, &bounds)
        }
        Partitioner::BucketAuto => {
            let bounds = bucket_auto(&db, &coll, &field, cfg.partition_count as u64, &ns).await?;
            ranges(&field, &bounds)
        }
        Partitioner::Sharded => {
            let (shard_field, bounds) = sharded(&client, &db, &ns).await?;
            ranges(&shard_field, &bounds)
        }
    };
    log::debug!(
        target: "spark_ds::mongodb",
        "{ns}: {} partitions by `{field}` ({})",
        planned.len(),
        cfg.partitioner.name()
    );
    Ok(planned)
}

fn docs_per_partition(count: u64, bytes: f64, per_partition_bytes: f64) -> u64 {
    if count == 0 || bytes <= 0.0 {
        return u64::MAX;
    }
    let avg = bytes / count as f64;
    ((per_partition_bytes / avg).floor() as u64).max(1)
}

/// The bracket of the field's first present, non-null value in natural order (arrays: of
/// their first element), or `None` when no value can bound a range.
async fn first_bracket(
    coll: &Collection<Document>,
    field: &str,
    ns: &str,
) -> Result<Option<&'static str>> {
    let found = coll
        .find_one(doc! { field: { "$exists": true, "$ne": null } })
        .projection(doc! { field: 1 })
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?;
    Ok(found
        .as_ref()
        .and_then(|d| get_path(d, field))
        .and_then(|v| match v {
            Bson::Array(items) => items.iter().find_map(bracket),
            v => bracket(v),
        }))
}

/// Boundaries `step` documents apart in the field's sort order, by sorted queries (each
/// starting at the previous boundary), at most `max_partitions - 1` of them.
async fn paginate(
    coll: &Collection<Document>,
    field: &str,
    step: u64,
    max_partitions: u64,
    ns: &str,
) -> Result<Vec<Bson>> {
    let mut bounds: Vec<Bson> = vec![];
    if step == u64::MAX {
        return Ok(bounds);
    }
    let Some(ty) = first_bracket(coll, field, ns).await? else {
        return Ok(bounds);
    };
    let value_at = |filter: Document, skip: u64| async move {
        let options = FindOneOptions::builder()
            .sort(doc! { field: 1 })
            .skip(skip)
            .projection(doc! { field: 1 })
            .build();
        let d = coll
            .find_one(filter)
            .with_options(options)
            .await
            .map_err(|e| errors::driver("plan partitions", ns, e))?;
        // Arrays sort by an element: such a boundary is skipped (ranges stay exact).
        Ok::<_, Error>(
            d.and_then(|d| get_path(&d, field).cloned())
                .filter(|v| bracket(v) == Some(ty)),
        )
    };
    while (bounds.len() as u64) + 1 < max_partitions {
        let next = match bounds.last() {
            None => value_at(doc! { field: { "$type": ty } }, step).await?,
            Some(last) => {
                match value_at(doc! { field: { "$type": ty, "$gte": last.clone() } }, step).await? {
                    Some(v) if &v == last => {
                        // Many equal values: the next boundary is the next distinct one.
                        value_at(doc! { field: { "$type": ty, "$gt": last.clone() } }, 0).await?
                    }
                    other => other,
                }
            }
        };
        match next {
            Some(v) if bounds.last() != Some(&v) => bounds.push(v),
            _ => break,
        }
    }
    Ok(bounds)
}

fn unsupported(stage: &str, partitioner: &str, server: &str) -> Error {
    Error::config(
        SYSTEM,
        format!(
            "partitioner `{partitioner}` needs the server's `{stage}` aggregation stage, which {server} does not have: use option `partitioner` = `paginateBySize` or `paginateIntoPartitions` (or `auto`)"
        ),
    )
}

/// Every `per`-th of `size` sampled values in sort order.
async fn sample(
    db: &Database,
    coll: &Collection<Document>,
    field: &str,
    size: u64,
    per: u64,
    ns: &str,
) -> Result<Vec<Bson>> {
    let ty = first_bracket(coll, field, ns).await?.unwrap_or("objectId");
    let pipeline = vec![
        doc! { "$match": { field: { "$type": ty } } },
        doc! { "$sample": { "size": size as i64 } },
        doc! { "$project": { field: 1 } },
        doc! { "$sort": { field: 1 } },
    ];
    let values = collect(db, coll, pipeline, field, ty, "$sample", "sample", ns).await?;
    let mut bounds: Vec<Bson> = values
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (*i as u64 + 1) % per == 0)
        .map(|(_, v)| v)
        .collect();
    bounds.dedup();
    Ok(bounds)
}

/// The lower bounds of `$bucketAuto`'s buckets but the first.
async fn bucket_auto(
    db: &Database,
    coll: &Collection<Document>,
    field: &str,
    buckets: u64,
    ns: &str,
) -> Result<Vec<Bson>> {
    let ty = first_bracket(coll, field, ns).await?.unwrap_or("objectId");
    let pipeline = vec![
        doc! { "$match": { field: { "$type": ty } } },
        doc! { "$bucketAuto": { "groupBy": format!("${field}"), "buckets": buckets as i64 } },
        doc! { "$project": { "v": "$_id.min" } },
        doc! { "$sort": { "v": 1 } },
    ];
    let mut bounds = collect(db, coll, pipeline, "v", ty, "$bucketAuto", "bucketAuto", ns).await?;
    if !bounds.is_empty() {
        bounds.remove(0);
    }
    bounds.dedup();
    Ok(bounds)
}

#[allow(clippy::too_many_arguments)]
async fn collect(
    db: &Database,
    coll: &Collection<Document>,
    pipeline: Vec<Document>,
    key: &str,
    ty: &str,
    stage: &str,
    partitioner: &str,
    ns: &str,
) -> Result<Vec<Bson>> {
    use futures::TryStreamExt as _;
    let refused = |e: mongodb::error::Error| async move {
        if errors::is_unsupported(&e) {
            let label = server(db, ns)
                .await
                .map(|s| s.label)
                .unwrap_or_else(|_| "this server".into());
            unsupported(stage, partitioner, &label)
        } else {
            errors::driver("plan partitions", ns, e)
        }
    };
    let cursor = match coll.aggregate(pipeline).await {
        Ok(c) => c,
        Err(e) => return Err(refused(e).await),
    };
    let docs: Vec<Document> = match cursor.try_collect().await {
        Ok(d) => d,
        Err(e) => return Err(refused(e).await),
    };
    Ok(docs
        .iter()
        .filter_map(|d| get_path(d, key).cloned())
        .filter(|v| bracket(v) == Some(ty) || (ty == "objectId" && bracket(v).is_some()))
        .collect())
}

/// The shard key field and the chunks' lower bounds (but the first) from `config`.
async fn sharded(client: &mongodb::Client, db: &Database, ns: &str) -> Result<(String, Vec<Bson>)> {
    use futures::TryStreamExt as _;
    let config = client.database("config");
    let not_sharded = |why: &str| {
        Error::config(
            SYSTEM,
            format!(
                "partitioner `sharded` needs a sharded collection read through mongos, and `{ns}` {why}: use option `partitioner` = `paginateBySize` or `paginateIntoPartitions` (or `auto`)"
            ),
        )
    };
    let entry = match config
        .collection::<Document>("collections")
        .find_one(doc! { "_id": ns })
        .await
    {
        Ok(e) => e,
        Err(e) if errors::is_unsupported(&e) => None,
        Err(e) => return Err(errors::driver("plan partitions", ns, e)),
    };
    let Some(entry) = entry.filter(|e| !e.get_bool("dropped").unwrap_or(false)) else {
        let label = server(db, ns)
            .await
            .map(|s| s.label)
            .unwrap_or_else(|_| "the server".into());
        return Err(not_sharded(&format!(
            "is not sharded on {label} (no entry in `config.collections`)"
        )));
    };
    let key = entry.get_document("key").cloned().unwrap_or_default();
    let (field, kind) = match (key.iter().next(), key.len()) {
        (Some((f, k)), 1) => (f.clone(), k.clone()),
        _ => {
            return Err(not_sharded(
                "has a compound shard key (only single-field keys split by chunks)",
            ));
        }
    };
    if matches!(kind, Bson::String(ref s) if s == "hashed") {
        return Err(not_sharded(
            "has a hashed shard key (its chunks are not ranges of the field's values)",
        ));
    }
    let mut filter = doc! { "ns": ns };
    if let Some(uuid) = entry.get("uuid") {
        filter = doc! { "$or": [ { "ns": ns }, { "uuid": uuid.clone() } ] };
    }
    let chunks: Vec<Document> = config
        .collection::<Document>("chunks")
        .find(filter)
        .sort(doc! { "min": 1 })
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?
        .try_collect()
        .await
        .map_err(|e| errors::driver("plan partitions", ns, e))?;
    let mut bounds: Vec<Bson> = chunks
        .iter()
        .filter_map(|c| c.get_document("min").ok()?.get(&field).cloned())
        .filter(|v| bracket(v).is_some())
        .collect();
    bounds.dedup();
    Ok((field, bounds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::oid::ObjectId;

    #[test]
    fn no_bounds_is_one_partition_of_everything() {
        let p = ranges("_id", &[]);
        assert_eq!(p.len(), 1);
        assert!(p[0].filter.is_empty());
        assert_eq!(Partition::parse(&p[0].to_json()).unwrap(), p[0]);
    }

    #[test]
    fn ranges_are_complements_of_nested_lower_bounds() {
        let p = ranges("f", &[Bson::Int32(10), Bson::Int64(100), Bson::Double(1e3)]);
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].filter, doc! { "f": { "$not": { "$gte": 10 } } });
        assert_eq!(
            p[1].filter,
            doc! { "f": { "$gte": 10, "$not": { "$gte": 100_i64 } } }
        );
        assert_eq!(
            p[2].filter,
            doc! { "f": { "$gte": 100_i64, "$not": { "$gte": 1e3 } } }
        );
        assert_eq!(p[3].filter, doc! { "f": { "$gte": 1e3 } });
        assert!(p.iter().all(|x| x.count == 4));
    }

    #[test]
    fn partition_json_keeps_bson_types() {
        let oid = ObjectId::parse_str("5f0000000000000000000001").unwrap();
        let bounds = [
            Bson::ObjectId(oid),
            Bson::DateTime(mongodb::bson::DateTime::from_millis(-5)),
        ];
        for p in ranges("a.b", &bounds) {
            let json = p.to_json();
            assert_eq!(Partition::parse(&json).unwrap(), p, "{json}");
        }
        let json = ranges("_id", &bounds[..1])[1].to_json();
        assert!(
            json.contains(r#""$oid":"5f0000000000000000000001""#),
            "{json}"
        );
        assert!(Partition::parse("{}").is_err());
    }

    #[test]
    fn brackets_and_paths() {
        assert_eq!(bracket(&Bson::Int64(1)), Some("number"));
        assert_eq!(
            bracket(&Bson::Decimal128(mongodb::bson::Decimal128::from_bytes(
                [0; 16]
            ))),
            Some("number")
        );
        assert_eq!(bracket(&Bson::Null), None);
        assert_eq!(bracket(&Bson::Array(vec![])), None);
        let d = doc! { "a": { "b": 3 }, "c": 1 };
        assert_eq!(get_path(&d, "a.b"), Some(&Bson::Int32(3)));
        assert_eq!(get_path(&d, "c.d"), None);
        assert_eq!(docs_per_partition(1000, 1000.0 * 100.0, 10_000.0), 100);
        assert_eq!(docs_per_partition(0, 0.0, 10.0), u64::MAX);
    }
}
