//! Table metadata from the driver (system_schema), output schema for Spark, projections.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use scylla::client::session::Session;
use scylla::cluster::metadata::{ColumnKind, ColumnType, NativeType, Strategy};
use spark_ds_core::{Error, ErrorKind, Result};

use crate::SYSTEM;
use crate::options::{Config, quote};
use crate::types::spelling::spark_type;
use crate::types::{arrow_type, cql_name, read_choices, reads_as};

/// One column of a table.
#[derive(Clone, Debug)]
pub struct ColumnMeta {
    pub name: String,
    pub typ: ColumnType<'static>,
    pub kind: ColumnKind,
}

/// The table as the connector needs it.
#[derive(Clone, Debug)]
pub struct TableMeta {
    pub keyspace: String,
    pub table: String,
    /// In CQL's `SELECT *` order: partition key, clustering key, then the rest by name.
    pub columns: Vec<ColumnMeta>,
    pub partition_key: Vec<String>,
    pub clustering_key: Vec<String>,
    pub strategy: Option<Strategy>,
}

impl TableMeta {
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_type(&self, name: &str) -> Option<&ColumnType<'static>> {
        self.column(name).map(|c| &c.typ)
    }

    pub fn is_counter_table(&self) -> bool {
        self.columns
            .iter()
            .any(|c| matches!(c.typ, ColumnType::Native(NativeType::Counter)))
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", quote(&self.keyspace), quote(&self.table))
    }

    /// Error for a column that does not exist, naming the nearest ones.
    pub fn unknown_column(&self, op: &str, name: &str) -> Error {
        Error::config(
            SYSTEM,
            format!(
                "column `{name}` does not exist in table {}.{}{}",
                self.keyspace,
                self.table,
                nearest_hint(name, self.columns.iter().map(|c| c.name.as_str()))
            ),
        )
        .with_context(op)
    }
}

/// "; did you mean `x`?" or "; existing: a, b, c" (at most 10 names).
pub fn nearest_hint<'a>(name: &str, names: impl Iterator<Item = &'a str>) -> String {
    let mut names: Vec<&str> = names.collect();
    names.sort_by_key(|n| {
        (
            strsim::levenshtein(&name.to_lowercase(), &n.to_lowercase()),
            *n,
        )
    });
    match names.first() {
        None => String::new(),
        Some(best)
            if strsim::levenshtein(&name.to_lowercase(), &best.to_lowercase())
                <= name.len().max(3) / 2 + 1 =>
        {
            format!("; did you mean `{best}`?")
        }
        Some(_) => {
            names.sort_unstable();
            let shown: Vec<&str> = names.iter().take(10).copied().collect();
            format!(
                "; existing: {}{}",
                shown.join(", "),
                if names.len() > 10 { ", …" } else { "" }
            )
        }
    }
}

/// Every keyspace's name (empty when the query fails: only used for hints).
async fn keyspace_names(session: &Session) -> Vec<String> {
    let Ok(result) = session
        .query_unpaged("SELECT keyspace_name FROM system_schema.keyspaces", ())
        .await
    else {
        return vec![];
    };
    let Ok(rows) = result.into_rows_result() else {
        return vec![];
    };
    let Ok(names) = rows.rows::<(String,)>() else {
        return vec![];
    };
    names.filter_map(|r| r.ok().map(|(n,)| n)).collect()
}

/// The table's metadata; clear errors for a missing keyspace or table.
pub async fn table_meta(session: &Session, cfg: &Config) -> Result<TableMeta> {
    let ks_name = cfg.keyspace()?;
    let table_name = cfg.table()?;
    let mut state = session.get_cluster_state();
    if state
        .get_keyspace(ks_name)
        .and_then(|k| k.tables.get(table_name))
        .is_none()
    {
        // The schema may have changed since the session connected.
        session.refresh_metadata().await.map_err(|e| {
            Error::transient(SYSTEM, "metadata", format!("cannot read the schema: {e}"))
        })?;
        state = session.get_cluster_state();
    }
    let Some(ks) = state.get_keyspace(ks_name) else {
        // The session fetches only this keyspace's metadata: list the others for the hint.
        let existing = keyspace_names(session).await;
        return Err(Error::not_found(
            SYSTEM,
            "schema",
            format!(
                "keyspace `{ks_name}` does not exist{}",
                nearest_hint(ks_name, existing.iter().map(String::as_str))
            ),
        ));
    };
    let Some(t) = ks.tables.get(table_name) else {
        return Err(Error::not_found(
            SYSTEM,
            "schema",
            format!(
                "table `{ks_name}.{table_name}` does not exist{}",
                nearest_hint(table_name, ks.tables.keys().map(String::as_str))
            ),
        ));
    };
    let mut columns: Vec<ColumnMeta> = Vec::with_capacity(t.columns.len());
    for name in t.partition_key.iter().chain(t.clustering_key.iter()) {
        if let Some(c) = t.columns.get(name) {
            columns.push(ColumnMeta {
                name: name.clone(),
                typ: c.typ.clone(),
                kind: c.kind.clone(),
            });
        }
    }
    let mut rest: Vec<(&String, _)> = t
        .columns
        .iter()
        .filter(|(_, c)| matches!(c.kind, ColumnKind::Regular | ColumnKind::Static))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(b.0));
    for (name, c) in rest {
        columns.push(ColumnMeta {
            name: name.clone(),
            typ: c.typ.clone(),
            kind: c.kind.clone(),
        });
    }
    Ok(TableMeta {
        keyspace: ks_name.to_string(),
        table: table_name.to_string(),
        columns,
        partition_key: t.partition_key.clone(),
        clustering_key: t.clustering_key.clone(),
        strategy: Some(ks.strategy.clone()),
    })
}

/// What one output column reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Column(String),
    WriteTime(String),
    Ttl(String),
}

impl Source {
    /// The CQL selector.
    pub fn selector(&self) -> String {
        match self {
            Source::Column(c) => quote(c),
            Source::WriteTime(c) => format!("writetime({})", quote(c)),
            Source::Ttl(c) => format!("ttl({})", quote(c)),
        }
    }
}

/// The full output schema: table columns, then the requested writetime/ttl columns.
pub fn full_fields(meta: &TableMeta, cfg: &Config) -> Result<Vec<(Field, Source)>> {
    let selected: Vec<&ColumnMeta> = match cfg.query.as_ref().and_then(|q| q.columns.as_ref()) {
        None => meta.columns.iter().collect(),
        Some(names) => names
            .iter()
            .map(|n| {
                meta.column(n)
                    .ok_or_else(|| meta.unknown_column("option `query`", n))
            })
            .collect::<Result<_>>()?,
    };
    let mut out: Vec<(Field, Source)> = selected
        .into_iter()
        .map(|c| {
            (
                Field::new(&c.name, arrow_type(&c.typ), true),
                Source::Column(c.name.clone()),
            )
        })
        .collect();
    for (cols, suffix, dt) in [
        (&cfg.writetime_columns, "writetime", DataType::Int64),
        (&cfg.ttl_columns, "ttl", DataType::Int32),
    ] {
        for col in cols {
            let c = meta
                .column(col)
                .ok_or_else(|| meta.unknown_column(&format!("option `{suffix}Columns`"), col))?;
            if c.kind != ColumnKind::Regular && c.kind != ColumnKind::Static {
                return Err(Error::config(
                    SYSTEM,
                    format!(
                        "option `{suffix}Columns`: `{col}` is a primary key column; only regular columns have a {suffix}"
                    ),
                ));
            }
            let source = if suffix == "ttl" {
                Source::Ttl(col.clone())
            } else {
                Source::WriteTime(col.clone())
            };
            out.push((
                Field::new(format!("{col}_{suffix}"), dt.clone(), true),
                source,
            ));
        }
    }
    Ok(out)
}

/// The requested output columns (all when `columns` is empty is NOT implied: empty means none).
pub fn project(
    meta: &TableMeta,
    cfg: &Config,
    columns: &[String],
) -> Result<(SchemaRef, Vec<Source>)> {
    project_as(meta, cfg, columns, None)
}

/// The operation named by errors about a user schema.
const USER_SCHEMA: &str = "user schema";

/// The CQL type a source reads as (writetime is a bigint, ttl an int).
pub fn source_type(meta: &TableMeta, source: &Source) -> Option<ColumnType<'static>> {
    match source {
        Source::Column(c) => meta.column_type(c).cloned(),
        Source::WriteTime(_) => Some(ColumnType::Native(NativeType::BigInt)),
        Source::Ttl(_) => Some(ColumnType::Native(NativeType::Int)),
    }
}

/// Like [`project`], with the schema Spark asked for (a user schema given with
/// `.schema(...)`, as Arrow): each of its columns must exist and its type must be the
/// default mapping or one of the exact conversions of [`reads_as`]; the batches are then
/// built in the requested types. `columns` is ignored when `requested` is given.
pub fn project_as(
    meta: &TableMeta,
    cfg: &Config,
    columns: &[String],
    requested: Option<&Schema>,
) -> Result<(SchemaRef, Vec<Source>)> {
    let Some(requested) = requested else {
        return project_names(meta, cfg, columns);
    };
    let names: Vec<String> = requested
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let (_, sources) = project_names(meta, cfg, &names)
        .map_err(|e| Error::new(e.kind(), SYSTEM, USER_SCHEMA, e.message()))?;
    for (field, source) in requested.fields().iter().zip(&sources) {
        let Some(typ) = source_type(meta, source) else {
            return Err(meta.unknown_column(USER_SCHEMA, field.name()));
        };
        if !reads_as(&typ, field.data_type()) {
            return Err(Error::new(
                ErrorKind::Config,
                SYSTEM,
                USER_SCHEMA,
                format!(
                    "column `{}` is CQL `{}` in table {}.{}, which does not read exactly as Spark {}; \
                     it can be read as: {}",
                    field.name(),
                    cql_name(&typ),
                    meta.keyspace,
                    meta.table,
                    spark_type(field.data_type()),
                    read_choices(&typ)
                ),
            ));
        }
    }
    Ok((Arc::new(requested.clone()), sources))
}

fn project_names(
    meta: &TableMeta,
    cfg: &Config,
    columns: &[String],
) -> Result<(SchemaRef, Vec<Source>)> {
    let all = full_fields(meta, cfg)?;
    let mut fields = Vec::with_capacity(columns.len());
    let mut sources = Vec::with_capacity(columns.len());
    for name in columns {
        let Some((f, s)) = all.iter().find(|(f, _)| f.name() == name) else {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "column `{name}` does not exist in table {}.{}{}",
                    meta.keyspace,
                    meta.table,
                    nearest_hint(name, all.iter().map(|(f, _)| f.name().as_str()))
                ),
            ));
        };
        fields.push(f.clone());
        sources.push(s.clone());
    }
    Ok((Arc::new(Schema::new(fields)), sources))
}

/// What `describe` returns. Spark's schema is converted from `schema` by PySpark
/// (`from_arrow_schema`), so there is one type mapping, Cassandra's to Arrow's.
#[derive(Clone, Debug)]
pub struct TableDescription {
    pub schema: SchemaRef,
    pub partition_key: Vec<String>,
    pub clustering_key: Vec<String>,
}

pub fn description(meta: &TableMeta, cfg: &Config) -> Result<TableDescription> {
    let fields: Fields = full_fields(meta, cfg)?
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    Ok(TableDescription {
        schema: Arc::new(Schema::new(fields)),
        partition_key: meta.partition_key.clone(),
        clustering_key: meta.clustering_key.clone(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// PRIMARY KEY ((k1 int, k2 text), c1 timestamp, c2 text), n int, u uuid, v double.
    pub fn sample_meta() -> TableMeta {
        let col = |name: &str, n: NativeType, kind: ColumnKind| ColumnMeta {
            name: name.into(),
            typ: ColumnType::Native(n),
            kind,
        };
        TableMeta {
            keyspace: "ks".into(),
            table: "t".into(),
            columns: vec![
                col("k1", NativeType::Int, ColumnKind::PartitionKey),
                col("k2", NativeType::Text, ColumnKind::PartitionKey),
                col("c1", NativeType::Timestamp, ColumnKind::Clustering),
                col("c2", NativeType::Text, ColumnKind::Clustering),
                col("n", NativeType::Int, ColumnKind::Regular),
                col("u", NativeType::Uuid, ColumnKind::Regular),
                col("v", NativeType::Double, ColumnKind::Regular),
            ],
            partition_key: vec!["k1".into(), "k2".into()],
            clustering_key: vec!["c1".into(), "c2".into()],
            strategy: None,
        }
    }

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::parse(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn describe_with_writetime_and_ttl_columns() {
        let m = sample_meta();
        let d = description(&m, &cfg(&[("writetimeColumns", "n"), ("ttlColumns", "v")])).unwrap();
        assert_eq!(
            crate::types::spelling::spark_ddl(d.schema.fields()),
            "k1 INT, k2 STRING, c1 TIMESTAMP, c2 STRING, n INT, u STRING, v DOUBLE, n_writetime BIGINT, v_ttl INT"
        );
        let e = description(&m, &cfg(&[("writetimeColumns", "k1")])).unwrap_err();
        assert!(e.message().contains("primary key"), "{}", e.message());
        let e = description(&m, &cfg(&[("ttlColumns", "vv")])).unwrap_err();
        assert!(e.message().contains("did you mean `v`"), "{}", e.message());
    }

    #[test]
    fn projection_in_requested_order() {
        let m = sample_meta();
        let (schema, sources) = project(
            &m,
            &cfg(&[("writetimeColumns", "n")]),
            &["n_writetime".into(), "k2".into()],
        )
        .unwrap();
        assert_eq!(schema.field(0).name(), "n_writetime");
        assert_eq!(sources[0].selector(), "writetime(\"n\")");
        assert_eq!(sources[1], Source::Column("k2".into()));
        let e = project(&m, &cfg(&[]), &["nn".into()]).unwrap_err();
        assert!(e.message().contains("did you mean `n`"), "{}", e.message());
    }

    #[test]
    fn user_schema_checked_against_the_table() {
        let m = sample_meta();
        let schema = |fields: Vec<Field>| Schema::new(fields);
        let ok = schema(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("u", DataType::Utf8, true),
            Field::new("c1", DataType::Int64, true),
        ]);
        let (out, sources) = project_as(&m, &cfg(&[]), &[], Some(&ok)).unwrap();
        assert_eq!(
            out.as_ref(),
            &ok,
            "batches are built in the requested types"
        );
        assert_eq!(sources[2], Source::Column("c1".into()));
        let missing = schema(vec![Field::new("nn", DataType::Int32, true)]);
        let e = project_as(&m, &cfg(&[]), &[], Some(&missing)).unwrap_err();
        assert_eq!(e.operation(), "user schema");
        assert!(
            e.message().starts_with("column `nn` does not exist")
                && e.message().contains("did you mean `n`"),
            "{}",
            e.message()
        );
        let bad = schema(vec![Field::new("v", DataType::Int32, true)]);
        let e = project_as(&m, &cfg(&[]), &[], Some(&bad)).unwrap_err();
        assert_eq!(
            (e.kind(), e.operation()),
            (ErrorKind::Config, "user schema")
        );
        assert_eq!(
            e.message(),
            "column `v` is CQL `double` in table ks.t, which does not read exactly as Spark INT; \
             it can be read as: DOUBLE (the default), STRING (the CQL text)"
        );
        // writetime reads as a bigint.
        let wt = schema(vec![Field::new("n_writetime", DataType::Utf8, true)]);
        assert!(project_as(&m, &cfg(&[("writetimeColumns", "n")]), &[], Some(&wt)).is_ok());
    }

    #[test]
    fn hints() {
        assert_eq!(
            nearest_hint("usres", ["users", "orders"].into_iter()),
            "; did you mean `users`?"
        );
        assert_eq!(
            nearest_hint("zzzzzzzz", ["b", "a"].into_iter()),
            "; existing: a, b"
        );
    }
}
