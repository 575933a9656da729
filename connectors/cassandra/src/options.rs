//! The connector's options: one typed list that validates Spark's map and renders the
//! README table, and [`Config`], the validated, typed view every other module reads.

use std::path::PathBuf;
use std::time::Duration;

use spark_ds_core::{Error, OptionSpec, OptionSpecs, OptionType, Options, Result, Secret};

use crate::SYSTEM;
use crate::query::CqlQuery;

const CONSISTENCY: &[&str] = &[
    "ANY",
    "ONE",
    "TWO",
    "THREE",
    "QUORUM",
    "ALL",
    "LOCAL_QUORUM",
    "EACH_QUORUM",
    "LOCAL_ONE",
    "SERIAL",
    "LOCAL_SERIAL",
];
const LOG_LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace"];
const POSITIVE: OptionType = OptionType::Int {
    min: 1,
    max: i32::MAX as i64,
};

/// Every option the connector accepts, in README order.
pub static OPTIONS: OptionSpecs = OptionSpecs::new(
    SYSTEM,
    &[
        // Connection.
        OptionSpec::new(
            "host",
            OptionType::Text,
            "Contact points, comma-separated (`host` or `host:port`).",
        )
        .default("127.0.0.1")
        .aliases(&["spark.cassandra.connection.host", "hosts"]),
        OptionSpec::new(
            "port",
            OptionType::Int { min: 1, max: 65535 },
            "Native protocol port of the contact points.",
        )
        .default("9042")
        .aliases(&["spark.cassandra.connection.port"]),
        OptionSpec::new(
            "localDC",
            OptionType::Text,
            "Datacenter whose nodes are preferred (others only as fallback).",
        )
        .aliases(&["spark.cassandra.connection.localDC"]),
        OptionSpec::new("keyspace", OptionType::Text, "Keyspace of the table."),
        OptionSpec::new("table", OptionType::Text, "Table to read or write."),
        OptionSpec::new(
            "query",
            OptionType::Text,
            "Read a CQL `SELECT * | cols FROM [ks.]table [WHERE …] [ALLOW FILTERING]` instead of `table` (still split by token range).",
        ),
        OptionSpec::new(
            "username",
            OptionType::Text,
            "User name (else env `SPARK_DS_CASSANDRA_USERNAME`, else `secretsFile`).",
        )
        .aliases(&["spark.cassandra.auth.username"]),
        OptionSpec::new(
            "password",
            OptionType::Secret,
            "Password (else env `SPARK_DS_CASSANDRA_PASSWORD`, else `secretsFile`); never logged.",
        )
        .aliases(&["spark.cassandra.auth.password"]),
        OptionSpec::new(
            "secretsFile",
            OptionType::Text,
            "Path of a JSON file `{\"username\": …, \"password\": …}` or `key=value` lines.",
        ),
        OptionSpec::new(
            "connectTimeoutMs",
            POSITIVE,
            "Time allowed to open the connection to the cluster.",
        )
        .default("5000")
        .aliases(&["spark.cassandra.connection.timeoutMS"]),
        OptionSpec::new(
            "requestTimeoutMs",
            POSITIVE,
            "Time allowed for one request (one page, one write).",
        )
        .default("30000")
        .aliases(&["spark.cassandra.read.timeoutMS"]),
        // TLS.
        OptionSpec::new("ssl", OptionType::Bool, "Connect with TLS (rustls).")
            .default("false")
            .aliases(&["spark.cassandra.connection.ssl.enabled"]),
        OptionSpec::new(
            "sslCaCert",
            OptionType::Text,
            "PEM file of the CA(s) to trust; default: the platform's roots.",
        ),
        OptionSpec::new(
            "sslClientCert",
            OptionType::Text,
            "PEM client certificate chain for mutual TLS.",
        ),
        OptionSpec::new(
            "sslClientKey",
            OptionType::Text,
            "PEM private key of `sslClientCert`.",
        ),
        OptionSpec::new(
            "sslVerifyHostname",
            OptionType::Bool,
            "Check that the server certificate names the host connected to.",
        )
        .default("true"),
        // Reading.
        OptionSpec::new(
            "consistencyLevel",
            OptionType::Choice(CONSISTENCY),
            "Consistency level of reads.",
        )
        .default("LOCAL_ONE")
        .aliases(&["spark.cassandra.input.consistency.level"]),
        OptionSpec::new(
            "fetchSize",
            OptionType::Int {
                min: 1,
                max: 1_000_000,
            },
            "Rows per page fetched.",
        )
        .default("5000")
        .aliases(&["spark.cassandra.input.fetch.sizeInRows"]),
        OptionSpec::new(
            "splitSizeInMB",
            POSITIVE,
            "Approximate data per Spark partition, from `system.size_estimates` (at least 4 + 4 per node partitions).",
        )
        .default("64")
        .aliases(&["spark.cassandra.input.split.sizeInMB"]),
        OptionSpec::new(
            "splitCount",
            POSITIVE,
            "Exact number of Spark partitions (overrides `splitSizeInMB`).",
        )
        .aliases(&["spark.cassandra.input.split.count"]),
        OptionSpec::new(
            "concurrentScans",
            OptionType::Int { min: 1, max: 64 },
            "Token ranges one task scans at once, each with its next page prefetched.",
        )
        .default("2"),
        OptionSpec::new(
            "concurrentReads",
            OptionType::Int { min: 1, max: 4096 },
            "Key queries in flight per task: pushed-down partition keys and `join_with_cassandra_table`.",
        )
        .default("32")
        .aliases(&["spark.cassandra.concurrent.reads"]),
        OptionSpec::new(
            "readsPerSec",
            POSITIVE,
            "Maximum pages fetched per second by one task.",
        )
        .aliases(&["spark.cassandra.input.readsPerSec"]),
        OptionSpec::new(
            "readThroughputMBPerSec",
            OptionType::Float {
                min: 0.001,
                max: 1e9,
            },
            "Maximum MB/s read by one task.",
        )
        .aliases(&["spark.cassandra.input.throughputMBPerSec"]),
        OptionSpec::new(
            "pushdown",
            OptionType::Bool,
            "Push filters down to Cassandra when CQL evaluates them exactly like Spark.",
        )
        .default("true")
        .aliases(&["spark.cassandra.sql.pushdown"]),
        OptionSpec::new(
            "allowFiltering",
            OptionType::Bool,
            "Also push simple comparisons on other columns, with ALLOW FILTERING.",
        )
        .default("false"),
        OptionSpec::new(
            "writetimeColumns",
            OptionType::Text,
            "Columns whose `writetime()` is read as extra BIGINT column `<col>_writetime` (µs).",
        )
        .aliases(&["writetimecols"]),
        OptionSpec::new(
            "ttlColumns",
            OptionType::Text,
            "Columns whose `ttl()` is read as extra INT column `<col>_ttl` (seconds).",
        ),
        // Writing.
        OptionSpec::new(
            "writeConsistencyLevel",
            OptionType::Choice(CONSISTENCY),
            "Consistency level of writes.",
        )
        .default("LOCAL_QUORUM")
        .aliases(&["spark.cassandra.output.consistency.level"]),
        OptionSpec::new("concurrentWrites", POSITIVE, "Writes in flight per task.")
            .default("32")
            .aliases(&["spark.cassandra.output.concurrent.writes"]),
        OptionSpec::new(
            "writeThroughputMBPerSec",
            OptionType::Float {
                min: 0.001,
                max: 1e9,
            },
            "Maximum MB/s written by one task.",
        )
        .aliases(&["spark.cassandra.output.throughputMBPerSec"]),
        OptionSpec::new(
            "batchGroupingKey",
            OptionType::Choice(&["none", "partition"]),
            "Group rows into UNLOGGED batches per partition key, or not.",
        )
        .default("none")
        .aliases(&["spark.cassandra.output.batch.grouping.key"]),
        OptionSpec::new(
            "batchSizeRows",
            POSITIVE,
            "Most rows in one UNLOGGED batch.",
        )
        .default("32")
        .aliases(&["spark.cassandra.output.batch.size.rows"]),
        OptionSpec::new(
            "batchSizeBytes",
            POSITIVE,
            "Most bytes in one UNLOGGED batch.",
        )
        .default("16384")
        .aliases(&["spark.cassandra.output.batch.size.bytes"]),
        OptionSpec::new("ttl", POSITIVE, "Constant TTL in seconds for written rows.")
            .aliases(&["spark.cassandra.output.ttl"]),
        OptionSpec::new(
            "ttlColumn",
            OptionType::Text,
            "DataFrame column (integer seconds) holding each row's TTL.",
        ),
        OptionSpec::new(
            "writetime",
            OptionType::Int {
                min: i64::MIN + 1,
                max: i64::MAX,
            },
            "Constant write timestamp in µs since the epoch.",
        )
        .aliases(&["spark.cassandra.output.timestamp"]),
        OptionSpec::new(
            "writetimeColumn",
            OptionType::Text,
            "DataFrame column (BIGINT µs or TIMESTAMP) holding each row's write timestamp.",
        ),
        OptionSpec::new(
            "ifNotExists",
            OptionType::Bool,
            "Insert with IF NOT EXISTS (lightweight transaction).",
        )
        .default("false")
        .aliases(&["spark.cassandra.output.ifNotExists"]),
        OptionSpec::new(
            "ignoreNulls",
            OptionType::Bool,
            "true: null values leave the column unchanged; false: they write a null (tombstone).",
        )
        .default("false")
        .aliases(&["spark.cassandra.output.ignoreNulls"]),
        OptionSpec::new(
            "writeMode",
            OptionType::Choice(&["upsert", "delete"]),
            "upsert (INSERT, or counter UPDATE) or delete (rows, or `deleteColumns`).",
        )
        .default("upsert"),
        OptionSpec::new(
            "deleteColumns",
            OptionType::Text,
            "With writeMode=delete: delete only these columns instead of whole rows.",
        ),
        OptionSpec::new(
            "confirmTruncate",
            OptionType::Bool,
            "Allow mode(\"overwrite\") to TRUNCATE the table.",
        )
        .default("false")
        .aliases(&["confirm.truncate"]),
        OptionSpec::new(
            "saveMode",
            OptionType::Choice(&["append", "errorIfExists", "ignore"]),
            "Spark gives Python sources only append and overwrite: with mode(\"append\"), \
             `errorIfExists` fails if the table has rows and `ignore` writes nothing then.",
        )
        .default("append"),
        OptionSpec::new(
            "createTable",
            OptionType::Bool,
            "Create the table from the DataFrame schema when it does not exist.",
        )
        .default("false"),
        OptionSpec::new(
            "partitionKey",
            OptionType::Text,
            "Partition key columns of a created table, comma-separated.",
        ),
        OptionSpec::new(
            "clusteringKey",
            OptionType::Text,
            "Clustering columns of a created table (`col` or `col DESC`), comma-separated.",
        ),
        OptionSpec::new(
            "tableOptions",
            OptionType::Text,
            "CQL `WITH` clause body for a created table (e.g. `compaction = {...}`).",
        ),
        OptionSpec::new(
            "keyspaceReplication",
            OptionType::Text,
            "With `createTable`: create a missing keyspace with this CQL replication map \
             (e.g. `{'class': 'SimpleStrategy', 'replication_factor': 1}`).",
        ),
        // Behaviour.
        OptionSpec::new(
            "retryMaxAttempts",
            OptionType::Int { min: 1, max: 100 },
            "Attempts for a page fetch or idempotent write on transient errors.",
        )
        .default("10")
        .aliases(&["spark.cassandra.query.retry.count"]),
        OptionSpec::new(
            "retryMaxElapsedMs",
            POSITIVE,
            "Time budget for the attempts of one request.",
        )
        .default("60000"),
        OptionSpec::new(
            "logLevel",
            OptionType::Choice(LOG_LEVELS),
            "Level of the connector's own log lines.",
        ),
    ],
);

/// Consistency levels by name (validated by the option list).
pub(crate) fn consistency(name: &str) -> scylla::statement::Consistency {
    use scylla::statement::Consistency as C;
    match name {
        "ANY" => C::Any,
        "ONE" => C::One,
        "TWO" => C::Two,
        "THREE" => C::Three,
        "QUORUM" => C::Quorum,
        "ALL" => C::All,
        "LOCAL_QUORUM" => C::LocalQuorum,
        "EACH_QUORUM" => C::EachQuorum,
        "SERIAL" => C::Serial,
        "LOCAL_SERIAL" => C::LocalSerial,
        _ => C::LocalOne,
    }
}

/// Write operation of a sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    Upsert,
    Delete,
}

/// Validated, typed configuration. `Debug` never shows the password.
#[derive(Clone, Debug)]
pub struct Config {
    pub hosts: Vec<String>,
    pub port: u16,
    pub local_dc: Option<String>,
    pub keyspace: Option<String>,
    pub table: Option<String>,
    /// The `query` option; its table is also in `keyspace`/`table`.
    pub query: Option<CqlQuery>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub secrets_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub ssl: bool,
    pub ssl_ca_cert: Option<PathBuf>,
    pub ssl_client_cert: Option<PathBuf>,
    pub ssl_client_key: Option<PathBuf>,
    pub ssl_verify_hostname: bool,
    pub consistency: String,
    pub write_consistency: String,
    pub fetch_size: i32,
    pub split_size_mb: u64,
    pub split_count: Option<usize>,
    pub concurrent_scans: usize,
    pub concurrent_reads: usize,
    pub reads_per_sec: Option<f64>,
    pub read_mb_per_sec: Option<f64>,
    pub pushdown: bool,
    pub allow_filtering: bool,
    pub writetime_columns: Vec<String>,
    pub ttl_columns: Vec<String>,
    pub concurrent_writes: usize,
    pub write_mb_per_sec: Option<f64>,
    pub batch_by_partition: bool,
    pub batch_size_rows: usize,
    pub batch_size_bytes: usize,
    pub ttl: Option<i32>,
    pub ttl_column: Option<String>,
    pub writetime: Option<i64>,
    pub writetime_column: Option<String>,
    pub if_not_exists: bool,
    pub ignore_nulls: bool,
    pub write_mode: WriteMode,
    pub delete_columns: Vec<String>,
    pub confirm_truncate: bool,
    /// `append`, `errorIfExists` or `ignore` (checked against the table's emptiness).
    pub save_mode: String,
    pub create_table: bool,
    pub partition_key: Vec<String>,
    pub clustering_key: Vec<String>,
    pub table_options: Option<String>,
    pub keyspace_replication: Option<String>,
    pub retry_max_attempts: u32,
    pub retry_max_elapsed: Duration,
    pub log_level: Option<String>,
}

fn path(o: &Options, name: &str) -> Option<PathBuf> {
    o.text(name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

fn text(o: &Options, name: &str) -> Option<String> {
    o.text(name)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

fn int(o: &Options, name: &str) -> i64 {
    o.int(name).unwrap_or_default()
}

impl Config {
    /// Validates Spark's option map (keys lower-cased by Spark, matched case-insensitively).
    pub fn parse(raw: &[(String, String)]) -> Result<Config> {
        let o = OPTIONS.parse(raw.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let hosts = o.list("host");
        if hosts.is_empty() {
            return Err(Error::config(
                SYSTEM,
                "option `host` must name at least one contact point",
            ));
        }
        let query = text(&o, "query").map(|q| CqlQuery::parse(&q)).transpose()?;
        let (keyspace, table) = match &query {
            None => (text(&o, "keyspace"), text(&o, "table")),
            Some(_) if o.text("table").is_some() => {
                return Err(Error::config(
                    SYSTEM,
                    "options `query` and `table` exclude each other: the query names its table",
                ));
            }
            Some(q) => (
                q.keyspace.clone().or_else(|| text(&o, "keyspace")),
                Some(q.table.clone()),
            ),
        };
        let cfg = Config {
            hosts,
            port: int(&o, "port") as u16,
            local_dc: text(&o, "localDC"),
            keyspace,
            table,
            query,
            username: text(&o, "username"),
            password: o.secret("password").filter(|s| !s.is_empty()).cloned(),
            secrets_file: path(&o, "secretsFile"),
            connect_timeout: Duration::from_millis(int(&o, "connectTimeoutMs") as u64),
            request_timeout: Duration::from_millis(int(&o, "requestTimeoutMs") as u64),
            ssl: o.bool("ssl").unwrap_or(false),
            ssl_ca_cert: path(&o, "sslCaCert"),
            ssl_client_cert: path(&o, "sslClientCert"),
            ssl_client_key: path(&o, "sslClientKey"),
            ssl_verify_hostname: o.bool("sslVerifyHostname").unwrap_or(true),
            consistency: o
                .text("consistencyLevel")
                .unwrap_or("LOCAL_ONE")
                .to_string(),
            write_consistency: o
                .text("writeConsistencyLevel")
                .unwrap_or("LOCAL_QUORUM")
                .to_string(),
            fetch_size: int(&o, "fetchSize") as i32,
            split_size_mb: int(&o, "splitSizeInMB") as u64,
            split_count: o.int("splitCount").map(|n| n as usize),
            concurrent_scans: int(&o, "concurrentScans") as usize,
            concurrent_reads: int(&o, "concurrentReads") as usize,
            reads_per_sec: o.int("readsPerSec").map(|n| n as f64),
            read_mb_per_sec: o.float("readThroughputMBPerSec"),
            pushdown: o.bool("pushdown").unwrap_or(true),
            allow_filtering: o.bool("allowFiltering").unwrap_or(false),
            writetime_columns: o.list("writetimeColumns"),
            ttl_columns: o.list("ttlColumns"),
            concurrent_writes: int(&o, "concurrentWrites") as usize,
            write_mb_per_sec: o.float("writeThroughputMBPerSec"),
            batch_by_partition: o.text("batchGroupingKey") == Some("partition"),
            batch_size_rows: int(&o, "batchSizeRows") as usize,
            batch_size_bytes: int(&o, "batchSizeBytes") as usize,
            ttl: o.int("ttl").map(|n| n as i32),
            ttl_column: text(&o, "ttlColumn"),
            writetime: o.int("writetime"),
            writetime_column: text(&o, "writetimeColumn"),
            if_not_exists: o.bool("ifNotExists").unwrap_or(false),
            ignore_nulls: o.bool("ignoreNulls").unwrap_or(false),
            write_mode: if o.text("writeMode") == Some("delete") {
                WriteMode::Delete
            } else {
                WriteMode::Upsert
            },
            delete_columns: o.list("deleteColumns"),
            confirm_truncate: o.bool("confirmTruncate").unwrap_or(false),
            save_mode: text(&o, "saveMode").unwrap_or_else(|| "append".into()),
            create_table: o.bool("createTable").unwrap_or(false),
            partition_key: o.list("partitionKey"),
            clustering_key: o.list("clusteringKey"),
            table_options: text(&o, "tableOptions"),
            keyspace_replication: text(&o, "keyspaceReplication"),
            retry_max_attempts: int(&o, "retryMaxAttempts") as u32,
            retry_max_elapsed: Duration::from_millis(int(&o, "retryMaxElapsedMs") as u64),
            log_level: text(&o, "logLevel"),
        };
        if cfg.ttl.is_some() && cfg.ttl_column.is_some() {
            return Err(Error::config(
                SYSTEM,
                "options `ttl` and `ttlColumn` exclude each other",
            ));
        }
        if cfg.writetime.is_some() && cfg.writetime_column.is_some() {
            return Err(Error::config(
                SYSTEM,
                "options `writetime` and `writetimeColumn` exclude each other",
            ));
        }
        if (cfg.ssl_client_cert.is_some()) != (cfg.ssl_client_key.is_some()) {
            return Err(Error::config(
                SYSTEM,
                "options `sslClientCert` and `sslClientKey` go together",
            ));
        }
        if !cfg.delete_columns.is_empty() && cfg.write_mode != WriteMode::Delete {
            return Err(Error::config(
                SYSTEM,
                "option `deleteColumns` needs `writeMode` = delete",
            ));
        }
        Ok(cfg)
    }

    /// The keyspace, or a config error saying to set it.
    pub fn keyspace(&self) -> Result<&str> {
        self.keyspace
            .as_deref()
            .ok_or_else(|| Error::config(SYSTEM, "option `keyspace` is required"))
    }

    /// The table, or a config error saying to set it.
    pub fn table(&self) -> Result<&str> {
        self.table
            .as_deref()
            .ok_or_else(|| Error::config(SYSTEM, "option `table` is required"))
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
        assert_eq!(c.hosts, vec!["127.0.0.1"]);
        assert_eq!(c.port, 9042);
        assert_eq!(c.fetch_size, 5000);
        assert_eq!(c.consistency, "LOCAL_ONE");
        assert_eq!(c.write_consistency, "LOCAL_QUORUM");
        assert_eq!(c.split_size_mb, 64);
        assert!(c.pushdown && !c.allow_filtering && !c.ignore_nulls && c.ssl_verify_hostname);
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
        assert_eq!(c.hosts, vec!["a", "b", "c"]);
        assert_eq!(c.fetch_size, 10);
        assert_eq!(c.write_consistency, "ONE");
        assert_eq!(c.concurrent_writes, 3);
        assert!(c.ssl);
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
        assert_eq!(t.lines().count(), 2 + OPTIONS.specs().len());
    }
}
