//! The connector's options: one typed list that validates Spark's map and renders the
//! README table, and [`Config`], the validated, typed view every other module reads.
//! Names follow MongoDB's own Spark connector where it has the option.

use std::ops::Deref;

use spark_ds_core::options::shared::{
    CredentialOptions, EndpointOptions, LogOptions, RetryOptions, TimeoutOptions, TlsOptions,
};
use spark_ds_core::options::{
    Choice, Count, Flag, List, OptChoice, OptCount, OptionSpecs, Override, SecretText, Text,
};
use spark_ds_core::{Error, Result, redact};

use crate::SYSTEM;

const MAX_I32: i64 = i32::MAX as i64;

spark_ds_core::choices! {
    /// Which members a read may go to.
    pub enum ReadPreference {
        Primary = "primary",
        PrimaryPreferred = "primaryPreferred",
        Secondary = "secondary",
        SecondaryPreferred = "secondaryPreferred",
        Nearest = "nearest",
    }
}

spark_ds_core::choices! {
    /// Read concern levels.
    pub enum ReadConcern {
        Local = "local",
        Available = "available",
        Majority = "majority",
        Linearizable = "linearizable",
        Snapshot = "snapshot",
    }
}

spark_ds_core::choices! {
    /// What a read does with a document whose value does not fit the schema (Spark's names).
    pub enum ParseMode {
        Permissive = "PERMISSIVE",
        DropMalformed = "DROPMALFORMED",
        FailFast = "FAILFAST",
    }
}

spark_ds_core::choices! {
    /// How a read is split into Spark partitions.
    pub enum Partitioner {
        Auto = "auto",
        Single = "single",
        PaginateBySize = "paginateBySize",
        PaginateIntoPartitions = "paginateIntoPartitions",
        Sample = "sample",
        BucketAuto = "bucketAuto",
        Sharded = "sharded",
    }
}

spark_ds_core::choices! {
    /// How a stream read follows the collection.
    pub enum StreamMode { Poll = "poll", ChangeStream = "changeStream" }
}

spark_ds_core::choices! {
    /// What a change event's `fullDocument` holds for updates.
    pub enum FullDocument {
        Default = "default",
        UpdateLookup = "updateLookup",
        WhenAvailable = "whenAvailable",
        Required = "required",
    }
}

spark_ds_core::choices! {
    /// Whether change events carry the document as it was before the change.
    pub enum FullDocumentBefore { Off = "off", WhenAvailable = "whenAvailable", Required = "required" }
}

spark_ds_core::choices! {
    /// Where a new stream read starts.
    pub enum StartAt { Earliest = "earliest", Latest = "latest" }
}

spark_ds_core::choices! {
    /// How each row is written.
    pub enum OperationType { Insert = "insert", Replace = "replace", Update = "update" }
}

spark_ds_core::choices! {
    /// What `mode("append")` does when the collection has documents (Spark gives Python
    /// sources only append and overwrite).
    pub enum SaveMode { Append = "append", ErrorIfExists = "errorIfExists", Ignore = "ignore" }
}

spark_ds_core::choices! {
    /// How `mode("overwrite")` empties the collection.
    pub enum OverwriteStrategy { Drop = "drop", DeleteAll = "deleteAll" }
}

spark_ds_core::options! {
    /// The options only MongoDB has.
    pub struct MongoOptions {
        /// Connection string (`mongodb://…` or `mongodb+srv://…`); its hosts, credentials, TLS and other URI options apply and `host`/`port` are ignored. Never shown.
        uri: SecretText = "connection.uri",
            aliases ["uri", "spark.mongodb.connection.uri", "spark.mongodb.read.connection.uri", "spark.mongodb.write.connection.uri"];
        /// Database of the collection.
        database_option: Text = "database",
            aliases ["spark.mongodb.database", "spark.mongodb.read.database", "spark.mongodb.write.database"];
        /// Collection to read or write.
        collection_option: Text = "collection",
            aliases ["spark.mongodb.collection", "spark.mongodb.read.collection", "spark.mongodb.write.collection"];
        /// Database the credentials are defined in (default: the URI's `authSource`, else `admin`).
        auth_source: Text = "authSource";
        /// Aggregation pipeline run before pushed-down stages: a JSON array of stages (or one stage), relaxed or canonical extended JSON.
        pipeline: Text = "aggregation.pipeline", aliases ["pipeline"];
        /// Let the server use temporary files for large aggregation stages.
        allow_disk_use: Flag = "aggregation.allowDiskUse", default "true";
        /// Read preference of reads.
        read_preference: Choice<ReadPreference> = "readPreference.name", default "primary";
        /// Read concern of reads (default: the server's).
        read_concern: OptChoice<ReadConcern> = "readConcern.level";
        /// Documents per cursor batch (default: the server's, up to 16 MB a batch).
        batch_size: OptCount<1, MAX_I32> = "batchSize";
        /// Comment attached to every command, visible in the server's logs and profiler.
        comment: Text = "comment";
        /// Server-side time limit of each read command, in ms.
        max_time_ms: OptCount<1, MAX_I32> = "maxTimeMS";
        /// Documents read to infer the schema, spread over the collection.
        sample_size: Count<1, 10_000_000> = "sampleSize", default "1000";
        /// Types pinned during inference, Spark DDL (`price DECIMAL(10,2), tags ARRAY<STRING>`); other fields are inferred.
        schema_hints: Text = "schemaHints";
        /// Documents whose values do not fit the schema: `PERMISSIVE` (unfit values null, whole document in `columnNameOfCorruptRecord`), `DROPMALFORMED` (skipped, counted) or `FAILFAST` (the read fails naming the document).
        parse_mode: Choice<ParseMode> = "mode", default "PERMISSIVE";
        /// String column that receives, in PERMISSIVE mode, the extended JSON of a document that did not fit.
        corrupt_record_column: Text = "columnNameOfCorruptRecord";
        /// How reads are split: `auto`, `single`, `paginateBySize`, `paginateIntoPartitions`, `sample`, `bucketAuto`, `sharded` (see "How a read is split" in this README).
        partitioner: Choice<Partitioner> = "partitioner", default "auto";
        /// Field whose ranges split the read.
        partition_field: Text = "partitioner.options.partition.field", default "_id";
        /// Target size of one partition, in MB (from the collection's average document size).
        partition_size_mb: Count<1, MAX_I32> = "partitioner.options.partition.size", default "64";
        /// Samples taken per partition by the `sample` partitioner.
        samples_per_partition: Count<1, MAX_I32> = "partitioner.options.samples.per.partition", default "10";
        /// Number of partitions of `paginateIntoPartitions`.
        partition_count: Count<1, 100_000> = "partitioner.options.max.number.of.partitions", default "8";
        /// How a stream read follows the collection: `poll` reads documents in the order of `stream.poll.field` (every server, inserts only); `changeStream` reads the change events after a resume token (replica sets and sharded clusters).
        stream_mode: Choice<StreamMode> = "stream.mode", default "poll";
        /// Change streams: rows are the events' `fullDocument` (events without one, such as deletes, are skipped); false: rows are whole change events (give their schema).
        full_document_only: Flag = "change.stream.publish.full.document.only", default "true";
        /// Change streams: what `fullDocument` holds for updates: `default` (nothing), `updateLookup` (the current document), `whenAvailable` or `required` (the post-image).
        full_document: Choice<FullDocument> = "change.stream.lookup.full.document", default "updateLookup";
        /// Change streams: the document before the change (`fullDocumentBeforeChange`; MongoDB 6.0+ with pre-images on): `off`, `whenAvailable` or `required`.
        full_document_before_change: Choice<FullDocumentBefore> = "change.stream.lookup.full.document.before.change", default "off";
        /// Field a polling stream reads in increasing order: new documents must get values above all existing ones (an ObjectId `_id`, an insertion time, a sequence); ties are ordered by `_id`.
        stream_field: Text = "stream.poll.field", default "_id";
        /// Where a new polling stream starts: `earliest` (every document) or `latest` (documents added after the query starts); a change stream starts at the query's start. A restarted query resumes from its checkpoint.
        stream_start_at: Choice<StartAt> = "stream.startAt", default "earliest";
        /// Most documents per micro-batch (Spark 4.2+ admission control); `Trigger.AvailableNow` reads in batches of this size too.
        max_rows_per_trigger: OptCount<1, MAX_I32> = "maxRowsPerTrigger";
        /// Push filters (Spark 4.1+) and column projection into the aggregation pipeline.
        pushdown: Flag = "pushdown", default "true";
        /// `insert`, `replace` (the whole document by `idFieldList`) or `update` (`$set` of the row's fields).
        operation_type: Choice<OperationType> = "operationType", default "replace";
        /// Fields identifying a document for replace and update, comma-separated.
        id_fields: List = "idFieldList", default "_id";
        /// Replace and update insert the document when no document matches.
        upsert_document: Flag = "upsertDocument", default "true";
        /// Null values are left out of written documents (update: the field is left unchanged).
        ignore_null_values: Flag = "ignoreNullValues", default "false";
        /// Insert skips documents whose `_id` exists already (the rest are written); off: a duplicate fails the write.
        ignore_duplicates_on_insert: Flag = "ignoreDuplicatesOnInsert", default "false";
        /// Ordered bulk writes: the server stops a batch at its first failing document.
        ordered: Flag = "ordered", default "true";
        /// Documents per bulk write command (at most 8 MiB of them). Default: 4096 for insert, where fewer, larger commands cost the server and the client less; 512 for replace and update, whose statements each take the server much longer (FerretDB: about 15 ms).
        max_batch_size: OptCount<1, 100_000> = "maxBatchSize";
        /// Bulk writes in flight per task; the next bulk is built while one is in flight. Spark's tasks already write in parallel: raise it for a server with cores to spare (a single-writer server such as FerretDB on SQLite gets slower).
        concurrent_writes: Count<1, 64> = "concurrentWrites", default "1";
        /// Write concern `w`: a number of members or `majority` (default: the server's).
        write_concern_w: Text = "writeConcern.w";
        /// Write concern `j`: wait for the journal (`true`/`false`; default: the server's).
        write_concern_journal: Text = "writeConcern.journal";
        /// Write concern time limit in ms.
        write_concern_timeout_ms: OptCount<1, MAX_I32> = "writeConcern.wTimeoutMS";
        /// String values of these fields (dotted paths) that are 24 hex digits are written as ObjectId.
        object_id_fields: List = "objectIdFields", default "_id";
        /// Binary values of these fields (dotted paths) that are 16 bytes long are written as UUIDs (binary subtype 4); other binary values are written as generic binary (subtype 0).
        uuid_fields: List = "uuidFields";
        /// Spark gives Python sources only append and overwrite: with mode("append"), `errorIfExists` fails if the collection has documents and `ignore` writes nothing then.
        save_mode: Choice<SaveMode> = "saveMode", default "append";
        /// How mode("overwrite") empties the collection, after the DataFrame was checked: `drop` (collection and indexes) or `deleteAll` (documents only). Required for overwrite.
        overwrite_strategy: OptChoice<OverwriteStrategy> = "overwriteStrategy";
    }
}

/// Every option the connector accepts, in README order.
pub static OPTIONS: OptionSpecs = OptionSpecs::new(
    SYSTEM,
    &[
        MongoOptions::SPECS,
        EndpointOptions::SPECS,
        CredentialOptions::SPECS,
        TimeoutOptions::SPECS,
        TlsOptions::SPECS,
        RetryOptions::SPECS,
        LogOptions::SPECS,
    ],
    &[
        Override {
            name: "port",
            default: Some("27017"),
            aliases: &[],
        },
        Override {
            name: "ssl",
            default: None,
            aliases: &["tls"],
        },
        Override {
            name: "sslCaCert",
            default: None,
            aliases: &["tlsCAFile"],
        },
    ],
);

/// Validated, typed configuration: the shared groups and MongoDB's own options (reached
/// through `Deref`). `Debug` never shows the URI or the password.
#[derive(Clone, Debug)]
pub struct Config {
    pub endpoint: EndpointOptions,
    pub credentials: CredentialOptions,
    pub timeouts: TimeoutOptions,
    pub tls: TlsOptions,
    pub retry: RetryOptions,
    pub log: LogOptions,
    pub own: MongoOptions,
    /// `writeConcern.journal`, parsed.
    pub journal: Option<bool>,
}

impl Deref for Config {
    type Target = MongoOptions;

    fn deref(&self) -> &MongoOptions {
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
        let own = MongoOptions::from_options(&o)?;
        if let Some(uri) = &own.uri {
            redact::register_uri_password(uri.expose());
        }
        let journal = match own.write_concern_journal.as_deref() {
            None => None,
            Some(j) if j.eq_ignore_ascii_case("true") => Some(true),
            Some(j) if j.eq_ignore_ascii_case("false") => Some(false),
            Some(j) => {
                return Err(Error::config(
                    SYSTEM,
                    format!("option `writeConcern.journal` must be `true` or `false`, got `{j}`"),
                ));
            }
        };
        let cfg = Config {
            endpoint,
            credentials: CredentialOptions::from_options(&o)?,
            timeouts: TimeoutOptions::from_options(&o)?,
            tls,
            retry: RetryOptions::from_options(&o)?,
            log: LogOptions::from_options(&o)?,
            own,
            journal,
        };
        cfg.check_exclusions()?;
        Ok(cfg)
    }

    /// Documents per bulk write command: `maxBatchSize`, else the operation's default.
    pub fn bulk_size(&self) -> usize {
        match (self.max_batch_size, self.operation_type) {
            (Some(n), _) => n,
            (None, OperationType::Insert) => 4096,
            (None, _) => 512,
        }
    }

    fn check_exclusions(&self) -> Result<()> {
        if self.id_fields.is_empty() {
            return Err(Error::config(
                SYSTEM,
                "option `idFieldList` must name at least one field",
            ));
        }
        if self.stream_field.as_deref().is_none_or(str::is_empty) {
            return Err(Error::config(
                SYSTEM,
                "option `stream.poll.field` must name a field",
            ));
        }
        if self.partition_field.as_deref().is_none_or(str::is_empty) {
            return Err(Error::config(
                SYSTEM,
                "option `partitioner.options.partition.field` must name a field",
            ));
        }
        Ok(())
    }

    /// The database, or a config error saying to set it.
    pub fn database(&self) -> Result<&str> {
        self.database_option.as_deref().ok_or_else(|| {
            Error::config(
                SYSTEM,
                "option `database` is required (the collection's database)",
            )
        })
    }

    /// The collection, or a config error saying to set it.
    pub fn collection(&self) -> Result<&str> {
        self.collection_option
            .as_deref()
            .ok_or_else(|| Error::config(SYSTEM, "option `collection` is required"))
    }

    /// `database.collection`, for messages.
    pub fn namespace(&self) -> Result<String> {
        Ok(format!("{}.{}", self.database()?, self.collection()?))
    }

    /// The field a polling stream reads in order (validated non-empty).
    pub fn stream_field(&self) -> &str {
        self.own.stream_field.as_deref().unwrap_or("_id")
    }

    /// The partition field (validated non-empty).
    pub fn partition_field(&self) -> &str {
        self.own.partition_field.as_deref().unwrap_or("_id")
    }
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
        let c = parse(&[("database", "db"), ("collection", "c")]).unwrap();
        assert_eq!(c.endpoint.port, 27017);
        assert_eq!(c.partitioner, Partitioner::Auto);
        assert_eq!(c.operation_type, OperationType::Replace);
        assert_eq!(c.id_fields, vec!["_id"]);
        assert_eq!(c.partition_field(), "_id");
        assert_eq!(c.parse_mode, ParseMode::Permissive);
        assert_eq!(c.namespace().unwrap(), "db.c");
        assert!(c.upsert_document && c.ordered && c.pushdown && !c.ignore_null_values);
        assert_eq!(c.bulk_size(), 512);
    }

    #[test]
    fn inserts_go_in_larger_bulks_unless_told() {
        let insert = [
            ("database", "db"),
            ("collection", "c"),
            ("operationType", "insert"),
        ];
        assert_eq!(parse(&insert).unwrap().bulk_size(), 4096);
        let mut told = insert.to_vec();
        told.push(("maxBatchSize", "100"));
        assert_eq!(parse(&told).unwrap().bulk_size(), 100);
        let update = [
            ("database", "db"),
            ("collection", "c"),
            ("operationType", "update"),
        ];
        assert_eq!(parse(&update).unwrap().bulk_size(), 512);
    }

    #[test]
    fn mongo_spark_names_and_aliases() {
        let c = parse(&[
            (
                "spark.mongodb.read.connection.uri",
                "mongodb://u:p%40ss@h:1/",
            ),
            ("readPreference.name", "secondaryPreferred"),
            ("partitioner", "paginatebysize"),
            ("partitioner.options.partition.size", "16"),
            ("writeConcern.journal", "TRUE"),
        ])
        .unwrap();
        assert_eq!(c.read_preference, ReadPreference::SecondaryPreferred);
        assert_eq!(c.partitioner, Partitioner::PaginateBySize);
        assert_eq!(c.partition_size_mb, 16);
        assert_eq!(c.journal, Some(true));
        assert!(!format!("{c:?}").contains("p%40ss"));
        assert_eq!(redact::redact("login p@ss failed"), "login *** failed");
    }

    #[test]
    fn errors_name_the_option() {
        let e = parse(&[("colection", "x")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("did you mean `collection`"),
            "{}",
            e.message()
        );
        let e = parse(&[("operationType", "upsert")]).unwrap_err();
        assert!(e.message().contains("operationType"), "{}", e.message());
        let e = parse(&[("writeConcern.journal", "maybe")]).unwrap_err();
        assert!(
            e.message().contains("writeConcern.journal"),
            "{}",
            e.message()
        );
        let e = parse(&[]).unwrap().collection().unwrap_err();
        assert!(e.message().contains("`collection` is required"));
    }

    #[test]
    fn table_lists_every_option() {
        let t = OPTIONS.markdown_table();
        assert_eq!(t.lines().count(), 2 + OPTIONS.len());
        assert!(t.contains("env `SPARK_DS_MONGODB_USERNAME`"), "{t}");
    }
}
