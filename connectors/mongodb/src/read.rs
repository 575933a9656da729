//! Reads: schema inference, partition planning and Arrow batches from raw BSON.

use arrow_schema::Schema;
use spark_ds_core::{BatchSource, Error, Result};

use crate::SYSTEM;
use crate::options::Config;

pub(crate) async fn infer_schema(cfg: &Config) -> Result<Schema> {
    crate::infer::infer_schema(cfg).await
}

pub(crate) fn check_schema(cfg: &Config, schema: &Schema) -> Result<()> {
    crate::to_arrow::BatchBuilder::new(
        std::sync::Arc::new(schema.clone()),
        cfg.parse_mode,
        cfg.corrupt_record_column.as_deref(),
    )
    .map(|_| ())
}

pub(crate) async fn plan_partitions(
    _cfg: &Config,
    _columns: &[String],
    _pushdown_state: Option<&str>,
) -> Result<Vec<String>> {
    Err(Error::internal(
        SYSTEM,
        "plan partitions",
        "reads are not built yet",
    ))
}

pub(crate) async fn open_reader(
    _cfg: &Config,
    _schema: &Schema,
    _pushdown_state: Option<&str>,
    _partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    Err(Error::internal(
        SYSTEM,
        "open reader",
        "reads are not built yet",
    ))
}
