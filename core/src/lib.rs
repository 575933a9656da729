#![doc = include_str!("../README.md")]

pub mod arrow;
pub mod auth;
pub mod batches;
pub mod breaker;
pub mod clock;
pub mod error;
pub mod logging;
pub mod metrics;
pub mod offsets;
pub mod options;
pub mod redact;
pub mod retry;
pub mod runtime;

pub use auth::{AuthChain, CredentialProvider, Credentials, Provided, Resolved};
pub use batches::{BatchSink, BatchSource};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, breaker_for};
pub use error::{Error, ErrorKind, Result};
pub use metrics::TaskMetrics;
pub use offsets::{Cursor, Offset, OffsetRange, PartitionOffsets, PartitionRange};
pub use options::{OptionSpec, OptionSpecs, OptionType, OptionValue, Options};
pub use redact::Secret;
pub use retry::{RetryPolicy, retry};
