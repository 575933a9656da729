//! The `logLevel` values every connector accepts, parsed in one place.
//!
//! Each connector logs under the target `spark_ds::<system>` so users can raise or lower one
//! connector's verbosity (e.g. through the Python `logging` bridge) without touching others.

use log::LevelFilter;

use crate::error::{Error, Result};
use crate::options::ChoiceEnum;

crate::choices! {
    /// The values the `logLevel` option accepts (declared in `options::shared`).
    pub enum LogLevel {
        Off = "off",
        Error = "error",
        Warn = "warn",
        Info = "info",
        Debug = "debug",
        Trace = "trace",
    }
}

/// The level names, for messages.
pub const LEVELS: &[&str] = <LogLevel as ChoiceEnum>::NAMES;

impl LogLevel {
    pub fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Off => LevelFilter::Off,
            LogLevel::Error => LevelFilter::Error,
            LogLevel::Warn => LevelFilter::Warn,
            LogLevel::Info => LevelFilter::Info,
            LogLevel::Debug => LevelFilter::Debug,
            LogLevel::Trace => LevelFilter::Trace,
        }
    }
}

/// Parses a `logLevel` value, case-insensitively; `warning` is accepted for `warn`.
pub fn parse_level(value: &str) -> Result<LevelFilter> {
    let word = value.trim().to_ascii_lowercase();
    let word = if word == "warning" { "warn" } else { &word };
    LEVELS
        .iter()
        .position(|n| *n == word)
        .map(|i| LogLevel::VALUES[i].filter())
        .ok_or_else(|| {
            Error::config(
                "logging",
                format!(
                    "option `logLevel`: expected one of {}, got `{value}`",
                    LEVELS.join(", ")
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn levels_parse_case_insensitively() {
        assert_eq!(parse_level("INFO").unwrap(), LevelFilter::Info);
        assert_eq!(parse_level(" warning ").unwrap(), LevelFilter::Warn);
        for level in LEVELS {
            assert_eq!(
                parse_level(level).unwrap().to_string().to_lowercase(),
                *level
            );
        }
    }

    #[test]
    fn bad_level_is_a_config_error_listing_choices() {
        let e = parse_level("verbose").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message()
                .contains("one of off, error, warn, info, debug, trace"),
            "{e}"
        );
    }
}
