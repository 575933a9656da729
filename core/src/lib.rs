#![doc = include_str!("../README.md")]

pub mod batches;
pub mod error;
pub mod options;
pub mod redact;
pub mod runtime;

pub use batches::{BatchSink, BatchSource};
pub use error::{Error, ErrorKind, Result};
pub use options::{OptionSpec, OptionSpecs, OptionType, OptionValue, Options};
pub use redact::Secret;
