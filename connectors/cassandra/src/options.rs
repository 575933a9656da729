//! The connector's options: one typed list that validates Spark's map and renders the
//! README table, and [`Config`], the validated, typed view every other module reads.

use std::ops::Deref;

use spark_ds_core::options::shared::{
    CredentialOptions, EndpointOptions, LogOptions, RetryOptions, TimeoutOptions, TlsOptions,
};
use spark_ds_core::options::{
    Choice, Count, Flag, List, OptCount, OptInt, OptionSpecs, Override, Rate, Text,
};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::query::CqlQuery;

const MAX_I32: i64 = i32::MAX as i64;

spark_ds_core::choices! {
    /// Consistency levels, by their CQL names.
    pub enum Consistency {
        Any = "ANY",
        One = "ONE",
        Two = "TWO",
        Three = "THREE",
        Quorum = "QUORUM",
        All = "ALL",
        LocalQuorum = "LOCAL_QUORUM",
        EachQuorum = "EACH_QUORUM",
        LocalOne = "LOCAL_ONE",
        Serial = "SERIAL",
        LocalSerial = "LOCAL_SERIAL",
    }
}

spark_ds_core::choices! {
    /// Write operation of a sink.
    pub enum WriteMode { Upsert = "upsert", Delete = "delete" }
}

spark_ds_core::choices! {
    /// What `mode("append")` does when the table has rows (Spark gives Python sources only
    /// append and overwrite).
    pub enum SaveMode { Append = "append", ErrorIfExists = "errorIfExists", Ignore = "ignore" }
}

spark_ds_core::choices! {
    /// How rows are grouped into UNLOGGED batches.
    pub enum BatchGrouping { None = "none", Partition = "partition" }
}

spark_ds_core::options! {
    /// The options only Cassandra has.
    pub struct CassandraOptions {
        /// Datacenter whose nodes are preferred (others only as fallback).
        local_dc: Text = "localDC", aliases ["spark.cassandra.connection.localDC"];
        /// Keyspace of the table.
        keyspace_option: Text = "keyspace";
        /// Table to read or write (or give `query`).
        table_option: Text = "table";
        /// Read a CQL `SELECT * | cols FROM [ks.]table [WHERE …] [ALLOW FILTERING]` instead of `table` (still split by token range).
        query_option: Text = "query";
        /// Consistency level of reads.
        consistency: Choice<Consistency> = "consistencyLevel",
            aliases ["spark.cassandra.input.consistency.level"], default "LOCAL_ONE";
        /// Rows per page fetched.
        fetch_size: Count<1, 1_000_000> = "fetchSize",
            aliases ["spark.cassandra.input.fetch.sizeInRows"], default "5000";
        /// Approximate data per Spark partition, from `system.size_estimates` (at least 4 + 4 per node partitions).
        split_size_mb: Count<1, MAX_I32> = "splitSizeInMB",
            aliases ["spark.cassandra.input.split.sizeInMB"], default "64";
        /// Exact number of Spark partitions (overrides `splitSizeInMB`).
        split_count: OptCount<1, MAX_I32> = "splitCount", aliases ["spark.cassandra.input.split.count"];
        /// Token ranges one task scans at once, each with its next page prefetched.
        concurrent_scans: Count<1, 64> = "concurrentScans", default "2";
        /// Key queries in flight per task: pushed-down partition keys and `join_with_cassandra_table`.
        concurrent_reads: Count<1, 4096> = "concurrentReads",
            aliases ["spark.cassandra.concurrent.reads"], default "32";
        /// Maximum pages fetched per second by one task.
        reads_per_sec: OptCount<1, MAX_I32> = "readsPerSec", aliases ["spark.cassandra.input.readsPerSec"];
        /// Maximum MB/s read by one task.
        read_mb_per_sec: Rate = "readThroughputMBPerSec",
            aliases ["spark.cassandra.input.throughputMBPerSec"];
        /// Push filters down to Cassandra when CQL evaluates them exactly like Spark.
        pushdown: Flag = "pushdown", aliases ["spark.cassandra.sql.pushdown"], default "true";
        /// Also push simple comparisons on other columns, with ALLOW FILTERING.
        allow_filtering: Flag = "allowFiltering", default "false";
        /// Columns whose `writetime()` is read as extra BIGINT column `<col>_writetime` (µs).
        writetime_columns: List = "writetimeColumns", aliases ["writetimecols"];
        /// Columns whose `ttl()` is read as extra INT column `<col>_ttl` (seconds).
        ttl_columns: List = "ttlColumns";
        /// Consistency level of writes.
        write_consistency: Choice<Consistency> = "writeConsistencyLevel",
            aliases ["spark.cassandra.output.consistency.level"], default "LOCAL_QUORUM";
        /// Writes in flight per task.
        concurrent_writes: Count<1, MAX_I32> = "concurrentWrites",
            aliases ["spark.cassandra.output.concurrent.writes"], default "32";
        /// Maximum MB/s written by one task.
        write_mb_per_sec: Rate = "writeThroughputMBPerSec",
            aliases ["spark.cassandra.output.throughputMBPerSec"];
        /// Group rows into UNLOGGED batches per partition key, or not.
        batch_grouping: Choice<BatchGrouping> = "batchGroupingKey",
            aliases ["spark.cassandra.output.batch.grouping.key"], default "none";
        /// Most rows in one UNLOGGED batch.
        batch_size_rows: Count<1, MAX_I32> = "batchSizeRows",
            aliases ["spark.cassandra.output.batch.size.rows"], default "32";
        /// Most bytes in one UNLOGGED batch.
        batch_size_bytes: Count<1, MAX_I32> = "batchSizeBytes",
            aliases ["spark.cassandra.output.batch.size.bytes"], default "16384";
        /// Constant TTL in seconds for written rows.
        ttl: OptInt<1, MAX_I32> = "ttl", aliases ["spark.cassandra.output.ttl"];
        /// DataFrame column (integer seconds) holding each row's TTL.
        ttl_column: Text = "ttlColumn";
        /// Constant write timestamp in µs since the epoch.
        writetime: OptInt<{ i64::MIN + 1 }, { i64::MAX }> = "writetime",
            aliases ["spark.cassandra.output.timestamp"];
        /// DataFrame column (BIGINT µs or TIMESTAMP) holding each row's write timestamp.
        writetime_column: Text = "writetimeColumn";
        /// Insert with IF NOT EXISTS (lightweight transaction).
        if_not_exists: Flag = "ifNotExists", aliases ["spark.cassandra.output.ifNotExists"], default "false";
        /// true: null values leave the column unchanged; false: they write a null (tombstone).
        ignore_nulls: Flag = "ignoreNulls", aliases ["spark.cassandra.output.ignoreNulls"], default "false";
        /// upsert (INSERT, or counter UPDATE) or delete (rows, or `deleteColumns`).
        write_mode: Choice<WriteMode> = "writeMode", default "upsert";
        /// With writeMode=delete: delete only these columns instead of whole rows.
        delete_columns: List = "deleteColumns";
        /// DataFrame column (boolean, integer or string) choosing per row: whole-row DELETE by primary key when it equals `deleteFlagValue`, upsert otherwise (also when null); never written.
        delete_flag_column: Text = "deleteFlagColumn";
        /// Value of `deleteFlagColumn` that means delete: `true`/`false` for a boolean column (default `true`), an integer for an integer one (default `1`), exact text for a string one (required).
        delete_flag_value: Text = "deleteFlagValue";
        /// Allow mode("overwrite") to TRUNCATE the table.
        confirm_truncate: Flag = "confirmTruncate", aliases ["confirm.truncate"], default "false";
        /// Spark gives Python sources only append and overwrite: with mode("append"), `errorIfExists` fails if the table has rows and `ignore` writes nothing then.
        save_mode: Choice<SaveMode> = "saveMode", default "append";
        /// Create the table from the DataFrame schema when it does not exist.
        create_table: Flag = "createTable", default "false";
        /// Partition key columns of a created table, comma-separated.
        partition_key: List = "partitionKey";
        /// Clustering columns of a created table (`col` or `col DESC`), comma-separated.
        clustering_key: List = "clusteringKey";
        /// CQL `WITH` clause body for a created table (e.g. `compaction = {...}`).
        table_options: Text = "tableOptions";
        /// CQL types of columns of a created table, `column:type` separated by `;` (e.g. `tags:set<text>; id:uuid; addr:frozen<address>; emb:vector<float, 3>`); other columns take the default mapping.
        column_types: Text = "columnTypes";
        /// With `createTable`: create a missing keyspace with this CQL replication map (e.g. `{'class': 'SimpleStrategy', 'replication_factor': 1}`).
        keyspace_replication: Text = "keyspaceReplication";
    }
}

/// Every option the connector accepts, in README order.
pub static OPTIONS: OptionSpecs = OptionSpecs::new(
    SYSTEM,
    &[
        EndpointOptions::SPECS,
        CassandraOptions::SPECS,
        CredentialOptions::SPECS,
        TimeoutOptions::SPECS,
        TlsOptions::SPECS,
        RetryOptions::SPECS,
        LogOptions::SPECS,
    ],
    &[
        Override {
            name: "host",
            default: None,
            aliases: &["spark.cassandra.connection.host", "hosts"],
        },
        Override {
            name: "port",
            default: Some("9042"),
            aliases: &["spark.cassandra.connection.port"],
        },
        Override {
            name: "username",
            default: None,
            aliases: &["spark.cassandra.auth.username"],
        },
        Override {
            name: "password",
            default: None,
            aliases: &["spark.cassandra.auth.password"],
        },
        Override {
            name: "connectTimeoutMs",
            default: None,
            aliases: &["spark.cassandra.connection.timeoutMS"],
        },
        Override {
            name: "requestTimeoutMs",
            default: None,
            aliases: &["spark.cassandra.read.timeoutMS"],
        },
        Override {
            name: "ssl",
            default: None,
            aliases: &["spark.cassandra.connection.ssl.enabled"],
        },
        Override {
            name: "retryMaxAttempts",
            default: None,
            aliases: &["spark.cassandra.query.retry.count"],
        },
    ],
);

impl Consistency {
    /// The driver's value.
    pub fn to_driver(self) -> scylla::statement::Consistency {
        use scylla::statement::Consistency as C;
        match self {
            Consistency::Any => C::Any,
            Consistency::One => C::One,
            Consistency::Two => C::Two,
            Consistency::Three => C::Three,
            Consistency::Quorum => C::Quorum,
            Consistency::All => C::All,
            Consistency::LocalQuorum => C::LocalQuorum,
            Consistency::EachQuorum => C::EachQuorum,
            Consistency::LocalOne => C::LocalOne,
            Consistency::Serial => C::Serial,
            Consistency::LocalSerial => C::LocalSerial,
        }
    }
}

/// Validated, typed configuration: the shared groups, Cassandra's own options (reached
/// through `Deref`), and what is derived from them. `Debug` never shows the password.
#[derive(Clone, Debug)]
pub struct Config {
    pub endpoint: EndpointOptions,
    pub credentials: CredentialOptions,
    pub timeouts: TimeoutOptions,
    pub tls: TlsOptions,
    pub retry: RetryOptions,
    pub log: LogOptions,
    pub own: CassandraOptions,
    /// The keyspace: option `keyspace`, or the one `query` names.
    pub keyspace: Option<String>,
    /// The table: option `table`, or the one `query` names.
    pub table: Option<String>,
    /// The `query` option, parsed.
    pub query: Option<CqlQuery>,
}

impl Deref for Config {
    type Target = CassandraOptions;

    fn deref(&self) -> &CassandraOptions {
        &self.own
    }
}

impl Config {
    /// Validates Spark's option map (keys lower-cased by Spark, matched case-insensitively).
    pub fn parse(raw: &[(String, String)]) -> Result<Config> {
        let o = OPTIONS.parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let endpoint = EndpointOptions::from_options(&o)?;
        endpoint.check(SYSTEM)?;
        let tls = TlsOptions::from_options(&o)?;
        tls.check(SYSTEM)?;
        let own = CassandraOptions::from_options(&o)?;
        let query = own
            .query_option
            .as_deref()
            .map(CqlQuery::parse)
            .transpose()?;
        let (keyspace, table) = match &query {
            None => (own.keyspace_option.clone(), own.table_option.clone()),
            Some(_) if own.table_option.is_some() => {
                return Err(Error::config(
                    SYSTEM,
                    "options `query` and `table` exclude each other: the query names its table",
                ));
            }
            Some(q) => (
                q.keyspace.clone().or_else(|| own.keyspace_option.clone()),
                Some(q.table.clone()),
            ),
        };
        let cfg = Config {
            endpoint,
            credentials: CredentialOptions::from_options(&o)?,
            timeouts: TimeoutOptions::from_options(&o)?,
            tls,
            retry: RetryOptions::from_options(&o)?,
            log: LogOptions::from_options(&o)?,
            own,
            keyspace,
            table,
            query,
        };
        cfg.check_exclusions()?;
        Ok(cfg)
    }

    fn check_exclusions(&self) -> Result<()> {
        if self.ttl.is_some() && self.ttl_column.is_some() {
            return Err(Error::config(
                SYSTEM,
                "options `ttl` and `ttlColumn` exclude each other",
            ));
        }
        if self.writetime.is_some() && self.writetime_column.is_some() {
            return Err(Error::config(
                SYSTEM,
                "options `writetime` and `writetimeColumn` exclude each other",
            ));
        }
        if !self.delete_columns.is_empty() && self.write_mode != WriteMode::Delete {
            return Err(Error::config(
                SYSTEM,
                "option `deleteColumns` needs `writeMode` = delete",
            ));
        }
        Ok(())
    }

    /// The keyspace, or a config error saying to set it.
    pub fn keyspace(&self) -> Result<&str> {
        self.keyspace
            .as_deref()
            .ok_or_else(|| Error::config(SYSTEM, "option `keyspace` is required"))
    }

    /// The table, or a config error saying to set it (or `query`, for reads).
    pub fn table(&self) -> Result<&str> {
        self.table.as_deref().ok_or_else(|| {
            Error::config(
                SYSTEM,
                "option `table` is required (for reads, `query` may name it instead)",
            )
        })
    }

    /// A config error when `query` is set for an operation that takes a table.
    pub fn not_a_query(&self, operation: &str) -> Result<()> {
        match self.query {
            Some(_) => Err(Error::config(
                SYSTEM,
                format!("option `query` is for reads; {operation} take `keyspace` and `table`"),
            )),
            None => Ok(()),
        }
    }

    /// `keyspace.table`, each quoted for CQL.
    pub fn qualified_table(&self) -> Result<String> {
        Ok(format!(
            "{}.{}",
            quote(self.keyspace()?),
            quote(self.table()?)
        ))
    }
}

/// A CQL identifier, double-quoted (so case and odd characters survive).
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use spark_ds_core::ErrorKind;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config> {
        let raw: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_lowercase(), v.to_string()))
            .collect();
        Config::parse(&raw)
    }

    #[test]
    fn defaults() {
        let c = parse(&[("keyspace", "ks"), ("table", "t")]).unwrap();
        assert_eq!(c.endpoint.hosts, vec!["127.0.0.1"]);
        assert_eq!(c.endpoint.port, 9042);
        assert_eq!(c.fetch_size, 5000);
        assert_eq!(c.consistency, Consistency::LocalOne);
        assert_eq!(c.write_consistency, Consistency::LocalQuorum);
        assert_eq!(c.split_size_mb, 64);
        assert!(c.pushdown && !c.allow_filtering && !c.ignore_nulls && c.tls.ssl_verify_hostname);
        assert_eq!(c.qualified_table().unwrap(), "\"ks\".\"t\"");
    }

    #[test]
    fn scc_aliases_and_lists() {
        let c = parse(&[
            ("spark.cassandra.connection.host", "a, b ,c"),
            ("spark.cassandra.input.fetch.sizeInRows", "10"),
            ("spark.cassandra.output.consistency.level", "one"),
            ("spark.cassandra.output.concurrent.writes", "3"),
            ("spark.cassandra.connection.ssl.enabled", "TRUE"),
            ("writetimeColumns", "x,y"),
        ])
        .unwrap();
        assert_eq!(c.endpoint.hosts, vec!["a", "b", "c"]);
        assert_eq!(c.fetch_size, 10);
        assert_eq!(c.write_consistency, Consistency::One);
        assert_eq!(c.concurrent_writes, 3);
        assert!(c.tls.ssl);
        assert_eq!(c.writetime_columns, vec!["x", "y"]);
    }

    #[test]
    fn errors_are_config_errors() {
        let e = parse(&[("keyspce", "x")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("did you mean `keyspace`"),
            "{}",
            e.message()
        );
        let e = parse(&[("ttl", "5"), ("ttlColumn", "t")]).unwrap_err();
        assert!(e.message().contains("exclude"));
        let e = parse(&[("sslClientCert", "/x")]).unwrap_err();
        assert!(e.message().contains("go together"));
        let e = parse(&[("fetchSize", "0")]).unwrap_err();
        assert!(e.message().contains("fetchSize"));
        let e = parse(&[]).unwrap().table().unwrap_err();
        assert!(e.message().contains("`table` is required"));
    }

    #[test]
    fn password_is_hidden() {
        let c = parse(&[("password", "very-secret-pw")]).unwrap();
        assert!(!format!("{c:?}").contains("very-secret-pw"));
    }

    #[test]
    fn table_lists_every_option() {
        let t = OPTIONS.markdown_table();
        assert!(t.contains("`fetchSize` (also `spark.cassandra.input.fetch.sizeInRows`)"));
        assert_eq!(t.lines().count(), 2 + OPTIONS.len());
        assert!(t.contains("env `SPARK_DS_CASSANDRA_USERNAME`"), "{t}");
    }
}
