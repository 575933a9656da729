//! Typed options from Spark's string map.
//!
//! Spark hands a data source a case-insensitive map of strings (keys lower-cased). Each
//! connector declares its options once as a static [`OptionSpecs`]; that list validates the
//! user's map (types, ranges, choices, unknown keys with a "did you mean"), supplies defaults,
//! registers secret values for redaction, and renders the README's option table so the
//! documentation cannot drift from the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::redact::Secret;

/// What values an option accepts.
#[derive(Clone, Copy, Debug)]
pub enum OptionType {
    /// Any string.
    Text,
    /// A string that is never shown (password, token); registered for redaction.
    Secret,
    /// `true` or `false` (case-insensitive).
    Bool,
    /// A whole number within an inclusive range.
    Int { min: i64, max: i64 },
    /// A number within an inclusive range.
    Float { min: f64, max: f64 },
    /// One of a fixed set of words, matched case-insensitively and stored in its listed form.
    Choice(&'static [&'static str]),
}

impl OptionType {
    fn expectation(&self) -> String {
        match self {
            OptionType::Text | OptionType::Secret => "a string".into(),
            OptionType::Bool => "`true` or `false`".into(),
            OptionType::Int { min, max } => format!("a whole number from {min} to {max}"),
            OptionType::Float { min, max } => format!("a number from {min} to {max}"),
            OptionType::Choice(choices) => format!("one of {}", choices.join(", ")),
        }
    }
}

/// One option: its canonical (camelCase) name, accepted aliases, type, default and doc line.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: OptionType,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

impl OptionSpec {
    pub const fn new(name: &'static str, kind: OptionType, doc: &'static str) -> Self {
        OptionSpec {
            name,
            aliases: &[],
            kind,
            default: None,
            doc,
        }
    }

    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    pub const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    fn matches(&self, lower_key: &str) -> bool {
        self.name.eq_ignore_ascii_case(lower_key)
            || self
                .aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(lower_key))
    }
}

/// A parsed, validated option value.
#[derive(Clone, Debug)]
pub enum OptionValue {
    Text(String),
    Secret(Secret),
    Bool(bool),
    Int(i64),
    Float(f64),
}

/// A connector's whole option list.
pub struct OptionSpecs {
    system: &'static str,
    specs: &'static [OptionSpec],
}

/// Keys Spark itself may add to a source's options; accepted and ignored unless declared.
const SPARK_KEYS: &[&str] = &["path", "paths", "checkpointlocation", "queryname"];

impl OptionSpecs {
    pub const fn new(system: &'static str, specs: &'static [OptionSpec]) -> Self {
        OptionSpecs { system, specs }
    }

    pub fn specs(&self) -> &'static [OptionSpec] {
        self.specs
    }

    fn find(&self, key: &str) -> Option<&'static OptionSpec> {
        self.specs.iter().find(|s| s.matches(key))
    }

    /// Validates the user's map. Every problem is a config error naming the option.
    pub fn parse<'a, I>(&self, raw: I) -> Result<Options>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut values = BTreeMap::new();
        for (key, value) in raw {
            let Some(spec) = self.find(key) else {
                if SPARK_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    continue;
                }
                return Err(self.unknown_key(key));
            };
            if values.contains_key(spec.name) {
                return Err(Error::config(
                    self.system,
                    format!(
                        "option `{}` is given twice (once through an alias)",
                        spec.name
                    ),
                ));
            }
            values.insert(spec.name, self.convert(spec, value)?);
        }
        for spec in self.specs {
            if let (Some(default), false) = (spec.default, values.contains_key(spec.name)) {
                values.insert(spec.name, self.convert(spec, default)?);
            }
        }
        Ok(Options {
            system: self.system,
            values,
        })
    }

    fn convert(&self, spec: &OptionSpec, value: &str) -> Result<OptionValue> {
        let trimmed = value.trim();
        let bad = || {
            let shown = match spec.kind {
                OptionType::Secret => "***".to_string(),
                _ => format!("`{value}`"),
            };
            Error::config(
                self.system,
                format!(
                    "option `{}`: expected {}, got {}",
                    spec.name,
                    spec.kind.expectation(),
                    shown
                ),
            )
        };
        Ok(match spec.kind {
            OptionType::Text => OptionValue::Text(value.to_owned()),
            OptionType::Secret => OptionValue::Secret(Secret::new(value)),
            OptionType::Bool => match trimmed.to_ascii_lowercase().as_str() {
                "true" => OptionValue::Bool(true),
                "false" => OptionValue::Bool(false),
                _ => return Err(bad()),
            },
            OptionType::Int { min, max } => {
                let n: i64 = trimmed.parse().map_err(|_| bad())?;
                if n < min || n > max {
                    return Err(bad());
                }
                OptionValue::Int(n)
            }
            OptionType::Float { min, max } => {
                let n: f64 = trimmed.parse().map_err(|_| bad())?;
                if !(n >= min && n <= max) {
                    return Err(bad());
                }
                OptionValue::Float(n)
            }
            OptionType::Choice(choices) => {
                let found = choices.iter().find(|c| c.eq_ignore_ascii_case(trimmed));
                OptionValue::Text(found.ok_or_else(bad)?.to_string())
            }
        })
    }

    fn unknown_key(&self, key: &str) -> Error {
        let nearest = self
            .specs
            .iter()
            .flat_map(|s| {
                std::iter::once(s.name)
                    .chain(s.aliases.iter().copied())
                    .map(move |n| (s.name, n))
            })
            .map(|(canonical, name)| {
                (
                    edit_distance(&key.to_lowercase(), &name.to_lowercase()),
                    canonical,
                )
            })
            .min_by_key(|(d, _)| *d);
        let hint = match nearest {
            Some((d, name)) if d <= key.len().max(3) / 2 + 1 => format!("; did you mean `{name}`?"),
            _ => format!(
                "; known options: {}",
                self.specs
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Error::config(self.system, format!("unknown option `{key}`{hint}"))
    }

    /// The README table of options, generated from this list.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from("| option | default | meaning |\n| --- | --- | --- |\n");
        for spec in self.specs {
            let mut name = format!("`{}`", spec.name);
            if !spec.aliases.is_empty() {
                let aliases: Vec<String> = spec.aliases.iter().map(|a| format!("`{a}`")).collect();
                let _ = write!(name, " (also {})", aliases.join(", "));
            }
            let default = spec
                .default
                .map(|d| format!("`{d}`"))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) |",
                name,
                default,
                spec.doc,
                spec.kind.expectation()
            );
        }
        out
    }
}

/// Validated options; getters take the canonical name.
#[derive(Clone, Debug)]
pub struct Options {
    system: &'static str,
    values: BTreeMap<&'static str, OptionValue>,
}

impl Options {
    pub fn get(&self, name: &str) -> Option<&OptionValue> {
        self.values.get(name)
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(OptionValue::Text(s)) => Some(s),
            _ => None,
        }
    }

    pub fn secret(&self, name: &str) -> Option<&Secret> {
        match self.values.get(name) {
            Some(OptionValue::Secret(s)) => Some(s),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(OptionValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(OptionValue::Int(n)) => Some(*n),
            _ => None,
        }
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        match self.values.get(name) {
            Some(OptionValue::Float(n)) => Some(*n),
            Some(OptionValue::Int(n)) => Some(*n as f64),
            _ => None,
        }
    }

    /// A text option that must be present.
    pub fn required_text(&self, name: &str) -> Result<&str> {
        self.text(name)
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Error::config(self.system, format!("option `{name}` is required")))
    }

    /// A comma-separated list option, items trimmed, empties dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.text(name)
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn system(&self) -> &'static str {
        self.system
    }
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    static SPECS: OptionSpecs = OptionSpecs::new(
        "test",
        &[
            OptionSpec::new("table", OptionType::Text, "Table to read."),
            OptionSpec::new(
                "fetchSize",
                OptionType::Int {
                    min: 1,
                    max: 100_000,
                },
                "Rows per page.",
            )
            .default("5000")
            .aliases(&["spark.cassandra.input.fetch.sizeInRows"]),
            OptionSpec::new("password", OptionType::Secret, "Password."),
            OptionSpec::new("ssl", OptionType::Bool, "Use TLS.").default("false"),
            OptionSpec::new(
                "consistency",
                OptionType::Choice(&["ONE", "QUORUM"]),
                "Level.",
            )
            .default("ONE"),
        ],
    );

    fn parse(pairs: &[(&str, &str)]) -> Result<Options> {
        SPECS.parse(pairs.iter().copied())
    }

    #[test]
    fn keys_are_case_insensitive_and_defaults_apply() {
        let o = parse(&[("TABLE", "t1"), ("fetchsize", "100")]).unwrap();
        assert_eq!(o.text("table"), Some("t1"));
        assert_eq!(o.int("fetchSize"), Some(100));
        assert_eq!(o.bool("ssl"), Some(false));
        assert_eq!(o.text("consistency"), Some("ONE"));
    }

    #[test]
    fn aliases_resolve_to_the_canonical_name() {
        let o = parse(&[("spark.cassandra.input.fetch.sizeinrows", "7")]).unwrap();
        assert_eq!(o.int("fetchSize"), Some(7));
        let twice = parse(&[
            ("fetchSize", "1"),
            ("spark.cassandra.input.fetch.sizeInRows", "2"),
        ]);
        assert!(twice.unwrap_err().message().contains("given twice"));
    }

    #[test]
    fn unknown_key_suggests_the_nearest() {
        let e = parse(&[("fetchsise", "1")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message().contains("did you mean `fetchSize`?"),
            "{}",
            e.message()
        );
        let e = parse(&[("zzzzzzzzzzzz", "1")]).unwrap_err();
        assert!(
            e.message().contains("known options: table, fetchSize"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn range_and_type_errors_name_the_option_and_expectation() {
        let e = parse(&[("fetchSize", "0")]).unwrap_err();
        assert_eq!(
            e.message(),
            "option `fetchSize`: expected a whole number from 1 to 100000, got `0`"
        );
        let e = parse(&[("ssl", "yes")]).unwrap_err();
        assert!(e.message().contains("`true` or `false`"));
        let e = parse(&[("consistency", "all")]).unwrap_err();
        assert!(e.message().contains("one of ONE, QUORUM"));
        assert_eq!(
            parse(&[("consistency", "quorum")])
                .unwrap()
                .text("consistency"),
            Some("QUORUM")
        );
    }

    #[test]
    fn secrets_are_hidden_and_registered() {
        let o = parse(&[("password", "pa55word-x")]).unwrap();
        assert_eq!(o.secret("password").unwrap().expose(), "pa55word-x");
        assert!(!format!("{o:?}").contains("pa55word-x"));
        assert_eq!(crate::redact::redact("login pa55word-x"), "login ***");
    }

    #[test]
    fn spark_keys_are_ignored_and_required_is_checked() {
        let o = parse(&[("path", "/x")]).unwrap();
        assert!(
            o.required_text("table")
                .unwrap_err()
                .message()
                .contains("`table` is required")
        );
    }

    #[test]
    fn markdown_table_lists_every_option() {
        let t = SPECS.markdown_table();
        assert!(
            t.contains("| `fetchSize` (also `spark.cassandra.input.fetch.sizeInRows`) | `5000` |")
        );
        assert_eq!(t.lines().count(), 2 + SPECS.specs().len());
    }
}
