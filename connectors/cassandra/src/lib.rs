//! Cassandra/ScyllaDB logic of spark-ds: options, schema and type mapping, token-range
//! planning, filter pushdown, Arrow reads and writes, key lookups. No Python here.

pub mod from_arrow;
pub mod options;
pub mod pushdown;
pub mod ring;
pub mod schema;
pub mod session;
pub mod to_arrow;
pub mod types;

pub use options::{Config, OPTIONS};

/// System name used in every error.
pub const SYSTEM: &str = "cassandra";
