//! Writes: the DataFrame checked on the driver, save modes, Arrow batches to BSON bulk writes.

use arrow_schema::{Schema, SchemaRef};
use spark_ds_core::{BatchSink, Error, Result};

use crate::SYSTEM;
use crate::options::Config;

pub(crate) async fn prepare_write(
    _cfg: &Config,
    _schema: &Schema,
    _overwrite: bool,
) -> Result<bool> {
    Err(Error::internal(
        SYSTEM,
        "prepare write",
        "writes are not built yet",
    ))
}

pub(crate) async fn open_writer(_cfg: &Config, _schema: SchemaRef) -> Result<Box<dyn BatchSink>> {
    Err(Error::internal(
        SYSTEM,
        "open writer",
        "writes are not built yet",
    ))
}
