//! Reads: schema inference, partition planning and Arrow batches from raw BSON.

use arrow_schema::Schema;
use spark_ds_core::{BatchSource, Result};

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
    Ok(vec!["{}".into()])
}

pub(crate) async fn open_reader(
    cfg: &Config,
    schema: &Schema,
    _pushdown_state: Option<&str>,
    _partition_json: &str,
) -> Result<Box<dyn BatchSource>> {
    let coll = crate::client::collection(cfg).await?;
    let cursor = coll
        .find(mongodb::bson::doc! {})
        .await
        .map_err(|e| crate::errors::driver("read", "collection", e))?;
    let builder = crate::to_arrow::BatchBuilder::new(
        std::sync::Arc::new(schema.clone()),
        cfg.parse_mode,
        cfg.corrupt_record_column.as_deref(),
    )?;
    Ok(Box::new(WholeCollection {
        cursor,
        builder,
        done: false,
    }))
}

struct WholeCollection {
    cursor: mongodb::Cursor<mongodb::bson::RawDocumentBuf>,
    builder: crate::to_arrow::BatchBuilder,
    done: bool,
}

impl BatchSource for WholeCollection {
    fn next_batch(
        &mut self,
    ) -> futures::future::BoxFuture<'_, Result<Option<arrow_array::RecordBatch>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            use futures::TryStreamExt as _;
            while let Some(d) = self
                .cursor
                .try_next()
                .await
                .map_err(|e| crate::errors::driver("read", "collection", e))?
            {
                self.builder.append(&d)?;
            }
            self.done = true;
            Ok(Some(self.builder.finish()?))
        })
    }
}
