//! Arrow helpers every connector needs to hand Spark exactly what it accepts.
//!
//! Spark checks the first batch a reader yields against its schema exactly (`string`, not
//! `large_string`; `timestamp[us, tz=UTC]` for TimestampType), so these helpers pin the
//! types, convert the systems' wire values without silent loss, and size batches.

pub mod batch;
pub mod decimal;
pub mod temporal;
pub mod types;
pub mod uuid;

const SYSTEM: &str = "arrow";
