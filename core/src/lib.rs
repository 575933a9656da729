#![doc = include_str!("../README.md")]

pub mod auth;
pub mod batches;
pub mod clients;
pub mod error;
pub mod held;
pub mod logging;
pub mod metrics;
pub mod offsets;
pub mod options;
pub mod redact;
pub mod retry;
pub mod runtime;
pub mod tls;

pub use auth::{AuthChain, CredentialProvider, Credentials, Provided, Resolved};
pub use batches::{BatchSink, BatchSource};
pub use clients::ClientCache;
pub use error::{Error, ErrorKind, Result};
pub use metrics::TaskMetrics;
pub use options::{OptionSpec, OptionSpecs, OptionType, OptionValue, Options};
pub use redact::Secret;
pub use retry::{RetryPolicy, retry, retry_unless};
pub use tls::TlsFiles;
