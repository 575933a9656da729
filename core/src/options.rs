//! Typed options from Spark's string map, declared once.
//!
//! Spark hands a data source a case-insensitive map of strings (keys lower-cased). Each
//! option is declared once, inside an [`options!`](crate::options!) block: its key, aliases,
//! kind (which fixes the accepted values and the Rust type of the field), default and doc.
//! The block generates a struct with one typed field per option and the option specs that
//! validate the user's map (types, ranges, choices, unknown keys with a "did you mean"),
//! supply defaults, register secrets for redaction and render the README's option table.
//!
//! Options every connector shares are declared here once ([`shared`]); a connector lists
//! them with its own in an [`OptionSpecs`], and may give a shared option its own default
//! and extra aliases through an [`Override`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::redact::Secret;

pub mod shared;

/// What values an option accepts.
#[derive(Clone, Copy, Debug)]
pub enum OptionType {
    /// Any string.
    Text,
    /// A comma-separated list of strings.
    List,
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
            OptionType::List => "a comma-separated list".into(),
            OptionType::Bool => "`true` or `false`".into(),
            OptionType::Int { min, max } => format!("a whole number from {min} to {max}"),
            OptionType::Float { min, max } => format!("a number from {min} to {max}"),
            OptionType::Choice(choices) => format!("one of {}", choices.join(", ")),
        }
    }
}

/// One option: its canonical (camelCase) name, accepted aliases, type, default and doc line.
/// Written by [`options!`](crate::options!), not by hand.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub kind: OptionType,
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

/// A connector's own default and extra aliases for a shared option.
#[derive(Clone, Copy, Debug)]
pub struct Override {
    pub name: &'static str,
    pub default: Option<&'static str>,
    pub aliases: &'static [&'static str],
}

/// A spec with the connector's override applied.
#[derive(Clone, Debug)]
struct Resolved {
    spec: &'static OptionSpec,
    aliases: Vec<&'static str>,
    default: Option<&'static str>,
}

impl Resolved {
    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.spec.name).chain(self.aliases.iter().copied())
    }

    fn matches(&self, key: &str) -> bool {
        self.names().any(|n| n.eq_ignore_ascii_case(key))
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

/// A connector's whole option list: its declared groups in README order, and its overrides
/// of shared options.
pub struct OptionSpecs {
    system: &'static str,
    groups: &'static [&'static [OptionSpec]],
    overrides: &'static [Override],
}

/// Keys Spark itself may add to a source's options; accepted and ignored unless declared.
const SPARK_KEYS: &[&str] = &["path", "paths", "checkpointlocation", "queryname"];

impl OptionSpecs {
    pub const fn new(
        system: &'static str,
        groups: &'static [&'static [OptionSpec]],
        overrides: &'static [Override],
    ) -> Self {
        OptionSpecs {
            system,
            groups,
            overrides,
        }
    }

    fn resolved(&self) -> Vec<Resolved> {
        self.groups
            .iter()
            .flat_map(|g| g.iter())
            .map(|spec| {
                let mut resolved = Resolved {
                    spec,
                    aliases: spec.aliases.to_vec(),
                    default: spec.default,
                };
                for o in self.overrides.iter().filter(|o| o.name == spec.name) {
                    resolved.aliases.extend_from_slice(o.aliases);
                    if o.default.is_some() {
                        resolved.default = o.default;
                    }
                }
                resolved
            })
            .collect()
    }

    /// How many options there are (README rows).
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Validates the user's map. Every problem is a config error naming the option.
    pub fn parse<'a, I>(&self, raw: I) -> Result<Options>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let specs = self.resolved();
        let raw: Vec<(&str, &str)> = raw.into_iter().collect();
        // Secrets are registered for redaction before any value is checked, so an error
        // about another option can never quote a password given alongside it.
        for (key, value) in &raw {
            if let Some(spec) = specs.iter().find(|s| s.matches(key))
                && matches!(spec.spec.kind, OptionType::Secret)
            {
                crate::redact::register_secret(value);
            }
        }
        let mut values = BTreeMap::new();
        for (key, value) in raw {
            let Some(spec) = specs.iter().find(|s| s.matches(key)) else {
                if SPARK_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                    continue;
                }
                return Err(self.unknown_key(&specs, key));
            };
            let name = spec.spec.name;
            if values.contains_key(name) {
                return Err(Error::config(
                    self.system,
                    format!("option `{name}` is given twice (once through an alias)"),
                ));
            }
            values.insert(name, self.convert(spec.spec, value)?);
        }
        for spec in &specs {
            if let (Some(default), false) = (spec.default, values.contains_key(spec.spec.name)) {
                values.insert(spec.spec.name, self.convert(spec.spec, default)?);
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
            OptionType::Text | OptionType::List => OptionValue::Text(value.to_owned()),
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

    fn unknown_key(&self, specs: &[Resolved], key: &str) -> Error {
        let lower = key.to_lowercase();
        let nearest = specs
            .iter()
            .flat_map(|s| s.names().map(move |n| (s.spec.name, n)))
            .map(|(canonical, name)| (strsim::levenshtein(&lower, &name.to_lowercase()), canonical))
            .min_by_key(|(d, _)| *d);
        let hint = match nearest {
            Some((d, name)) if d <= key.len().max(3) / 2 + 1 => format!("; did you mean `{name}`?"),
            _ => format!(
                "; known options: {}",
                specs
                    .iter()
                    .map(|s| s.spec.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        // Spark lower-cases option names before a data source sees them.
        Error::config(
            self.system,
            format!("unknown option `{key}` (as Spark passes it, lower-cased){hint}"),
        )
    }

    /// The README table of options, generated from the declarations.
    pub fn markdown_table(&self) -> String {
        let mut out = String::from("| option | default | meaning |\n| --- | --- | --- |\n");
        let upper = self.system.to_ascii_uppercase();
        for spec in self.resolved() {
            let mut name = format!("`{}`", spec.spec.name);
            if !spec.aliases.is_empty() {
                let aliases: Vec<String> = spec.aliases.iter().map(|a| format!("`{a}`")).collect();
                let _ = write!(name, " (also {})", aliases.join(", "));
            }
            let default = spec
                .default
                .map(|d| format!("`{d}`"))
                .unwrap_or_else(|| "–".into());
            let doc = spec.spec.doc.trim().replace("<SYSTEM>", &upper);
            let _ = writeln!(
                out,
                "| {} | {} | {} ({}) |",
                name,
                default,
                doc,
                spec.spec.kind.expectation()
            );
        }
        out
    }
}

/// Validated options, keyed by canonical name. Read through the structs that
/// [`options!`](crate::options!) generates, never by name at a use site.
#[derive(Clone, Debug)]
pub struct Options {
    system: &'static str,
    values: BTreeMap<&'static str, OptionValue>,
}

impl Options {
    fn value(&self, name: &str) -> Option<&OptionValue> {
        self.values.get(name)
    }

    /// A declaration that promises a default but has none is a bug, not a user error.
    fn missing_default(&self, name: &str) -> Error {
        Error::internal(
            self.system,
            "options",
            format!("option `{name}` has no value and no default"),
        )
    }

    fn mismatch(&self, name: &str) -> Error {
        Error::internal(
            self.system,
            "options",
            format!("option `{name}` holds a value of another kind than declared"),
        )
    }
}

/// A kind of option: its accepted values, and the Rust type of its field.
pub trait OptionKind {
    type Value;
    const TYPE: OptionType;
    fn read(options: &Options, name: &str) -> Result<Self::Value>;
}

fn text<'a>(o: &'a Options, name: &str) -> Result<Option<&'a str>> {
    match o.value(name) {
        None => Ok(None),
        Some(OptionValue::Text(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => Err(o.mismatch(name)),
    }
}

fn int(o: &Options, name: &str) -> Result<Option<i64>> {
    match o.value(name) {
        None => Ok(None),
        Some(OptionValue::Int(n)) => Ok(Some(*n)),
        Some(_) => Err(o.mismatch(name)),
    }
}

/// Free text; empty counts as unset.
pub struct Text;
impl OptionKind for Text {
    type Value = Option<String>;
    const TYPE: OptionType = OptionType::Text;
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        Ok(text(o, name)?.map(String::from))
    }
}

/// A file path; empty counts as unset.
pub struct Path;
impl OptionKind for Path {
    type Value = Option<PathBuf>;
    const TYPE: OptionType = OptionType::Text;
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        Ok(text(o, name)?.map(PathBuf::from))
    }
}

/// A comma-separated list; items trimmed, empty items dropped.
pub struct List;
impl OptionKind for List {
    type Value = Vec<String>;
    const TYPE: OptionType = OptionType::List;
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        Ok(text(o, name)?
            .map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// A password or token: never shown, registered for redaction; empty counts as unset.
pub struct SecretText;
impl OptionKind for SecretText {
    type Value = Option<Secret>;
    const TYPE: OptionType = OptionType::Secret;
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        match o.value(name) {
            None => Ok(None),
            Some(OptionValue::Secret(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
            Some(_) => Err(o.mismatch(name)),
        }
    }
}

/// `true`/`false`; declared with a default.
pub struct Flag;
impl OptionKind for Flag {
    type Value = bool;
    const TYPE: OptionType = OptionType::Bool;
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        match o.value(name) {
            Some(OptionValue::Bool(b)) => Ok(*b),
            Some(_) => Err(o.mismatch(name)),
            None => Err(o.missing_default(name)),
        }
    }
}

/// A whole number in `MIN..=MAX`, optional (no default).
pub struct OptInt<const MIN: i64, const MAX: i64>;
impl<const MIN: i64, const MAX: i64> OptionKind for OptInt<MIN, MAX> {
    type Value = Option<i64>;
    const TYPE: OptionType = OptionType::Int { min: MIN, max: MAX };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        int(o, name)
    }
}

/// A count in `MIN..=MAX` (MIN ≥ 0), declared with a default.
pub struct Count<const MIN: i64, const MAX: i64>;
impl<const MIN: i64, const MAX: i64> OptionKind for Count<MIN, MAX> {
    type Value = usize;
    const TYPE: OptionType = OptionType::Int { min: MIN, max: MAX };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        let n = int(o, name)?.ok_or_else(|| o.missing_default(name))?;
        usize::try_from(n).map_err(|_| o.mismatch(name))
    }
}

/// An optional count in `MIN..=MAX` (MIN ≥ 0).
pub struct OptCount<const MIN: i64, const MAX: i64>;
impl<const MIN: i64, const MAX: i64> OptionKind for OptCount<MIN, MAX> {
    type Value = Option<usize>;
    const TYPE: OptionType = OptionType::Int { min: MIN, max: MAX };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        int(o, name)?
            .map(|n| usize::try_from(n).map_err(|_| o.mismatch(name)))
            .transpose()
    }
}

/// A TCP port; declared with a default (each system has its own).
pub struct Port;
impl OptionKind for Port {
    type Value = u16;
    const TYPE: OptionType = OptionType::Int { min: 1, max: 65535 };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        let n = int(o, name)?.ok_or_else(|| o.missing_default(name))?;
        u16::try_from(n).map_err(|_| o.mismatch(name))
    }
}

/// A duration in milliseconds, `MIN..=MAX`, declared with a default.
pub struct Millis<const MIN: i64, const MAX: i64>;
impl<const MIN: i64, const MAX: i64> OptionKind for Millis<MIN, MAX> {
    type Value = Duration;
    const TYPE: OptionType = OptionType::Int { min: MIN, max: MAX };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        let n = int(o, name)?.ok_or_else(|| o.missing_default(name))?;
        u64::try_from(n)
            .map(Duration::from_millis)
            .map_err(|_| o.mismatch(name))
    }
}

/// An optional positive rate (per second, MB/s); fractions allowed.
pub struct Rate;
impl OptionKind for Rate {
    type Value = Option<f64>;
    const TYPE: OptionType = OptionType::Float {
        min: 0.001,
        max: 1e9,
    };
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        match o.value(name) {
            None => Ok(None),
            Some(OptionValue::Float(n)) => Ok(Some(*n)),
            Some(_) => Err(o.mismatch(name)),
        }
    }
}

/// An enum whose variants are an option's choices; written by [`choices!`](crate::choices!).
pub trait ChoiceEnum: Sized + Copy + 'static {
    const NAMES: &'static [&'static str];
    const VALUES: &'static [Self];
}

fn choice<E: ChoiceEnum>(o: &Options, name: &str) -> Result<Option<E>> {
    let Some(word) = text(o, name)? else {
        return Ok(None);
    };
    E::NAMES
        .iter()
        .position(|n| *n == word)
        .map(|i| Some(E::VALUES[i]))
        .ok_or_else(|| o.mismatch(name))
}

/// One of an enum's choices, declared with a default.
pub struct Choice<E>(PhantomData<E>);
impl<E: ChoiceEnum> OptionKind for Choice<E> {
    type Value = E;
    const TYPE: OptionType = OptionType::Choice(E::NAMES);
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        choice(o, name)?.ok_or_else(|| o.missing_default(name))
    }
}

/// One of an enum's choices, or unset.
pub struct OptChoice<E>(PhantomData<E>);
impl<E: ChoiceEnum> OptionKind for OptChoice<E> {
    type Value = Option<E>;
    const TYPE: OptionType = OptionType::Choice(E::NAMES);
    fn read(o: &Options, name: &str) -> Result<Self::Value> {
        choice(o, name)
    }
}

/// An enum of an option's choices, each variant with the word users write.
#[macro_export]
macro_rules! choices {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident { $($variant:ident = $word:literal),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($variant),+ }

        impl $crate::options::ChoiceEnum for $name {
            const NAMES: &'static [&'static str] = &[$($word),+];
            const VALUES: &'static [Self] = &[$($name::$variant),+];
        }

        impl $name {
            /// The word users write for this choice.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }
    };
}

/// Declares options once: a struct with one typed field per option, its `SPECS` for an
/// [`OptionSpecs`] list, and `from_options` to read the validated values into it.
///
/// ```ignore
/// options! {
///     pub struct ReadOptions {
///         /// Rows per page fetched.
///         fetch_size: Count<1, 1_000_000> = "fetchSize", aliases ["spark.x.fetch"], default "5000";
///     }
/// }
/// ```
#[macro_export]
macro_rules! options {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                $field:ident : $kind:ty = $key:literal
                    $(, aliases [$($alias:literal),* $(,)?])?
                    $(, default $default:literal)? ;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            $( $(#[doc = $doc])+ pub $field: <$kind as $crate::options::OptionKind>::Value, )*
        }

        impl $name {
            /// The declarations, in README order.
            pub const SPECS: &'static [$crate::options::OptionSpec] = &[
                $( $crate::options::OptionSpec {
                    name: $key,
                    aliases: &[$($($alias),*)?],
                    kind: <$kind as $crate::options::OptionKind>::TYPE,
                    default: $crate::__option_default!($($default)?),
                    doc: concat!($($doc),+),
                }, )*
            ];

            /// The typed values of validated options.
            pub fn from_options(options: &$crate::options::Options) -> $crate::Result<Self> {
                Ok($name {
                    $( $field: <$kind as $crate::options::OptionKind>::read(options, $key)?, )*
                })
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __option_default {
    () => {
        None
    };
    ($default:literal) => {
        Some($default)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    crate::choices! {
        enum Level { One = "ONE", Quorum = "QUORUM" }
    }

    crate::options! {
        struct TestOptions {
            /// Table to read.
            table: Text = "table";
            /// Rows per page.
            fetch_size: Count<1, 100_000> = "fetchSize",
                aliases ["spark.cassandra.input.fetch.sizeInRows"], default "5000";
            /// Password.
            password: SecretText = "password";
            /// Use TLS.
            ssl: Flag = "ssl", default "false";
            /// Level.
            consistency: Choice<Level> = "consistency", default "ONE";
            /// Hosts.
            hosts: List = "hosts", default "a";
            /// Port.
            port: Port = "port";
        }
    }

    static SPECS: OptionSpecs = OptionSpecs::new(
        "test",
        &[TestOptions::SPECS],
        &[Override {
            name: "port",
            default: Some("9042"),
            aliases: &["spark.test.port"],
        }],
    );

    fn parse(pairs: &[(&str, &str)]) -> Result<TestOptions> {
        TestOptions::from_options(&SPECS.parse(pairs.iter().copied())?)
    }

    #[test]
    fn keys_are_case_insensitive_and_defaults_apply() {
        let o = parse(&[("TABLE", "t1"), ("fetchsize", "100")]).unwrap();
        assert_eq!(o.table.as_deref(), Some("t1"));
        assert_eq!(o.fetch_size, 100);
        assert!(!o.ssl);
        assert_eq!(o.consistency, Level::One);
        assert_eq!(o.hosts, vec!["a"]);
        assert_eq!(o.port, 9042);
    }

    #[test]
    fn aliases_and_overrides_resolve_to_the_canonical_name() {
        let o = parse(&[
            ("spark.cassandra.input.fetch.sizeinrows", "7"),
            ("spark.test.port", "1"),
        ])
        .unwrap();
        assert_eq!((o.fetch_size, o.port), (7, 1));
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
        assert!(e.message().contains("lower-cased"), "{}", e.message());
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
        let o = parse(&[("consistency", "quorum")]).unwrap();
        assert_eq!(o.consistency, Level::Quorum);
        assert_eq!(o.consistency.name(), "QUORUM");
    }

    #[test]
    fn secrets_are_hidden_and_registered() {
        let o = parse(&[("password", "pa55word-x")]).unwrap();
        assert_eq!(o.password.as_ref().unwrap().expose(), "pa55word-x");
        assert!(!format!("{o:?}").contains("pa55word-x"));
        // An error about an option checked before the password never quotes the password.
        let e = parse(&[("ssl", "pa55word-y"), ("password", "pa55word-y")]).unwrap_err();
        assert!(e.message().contains("option `ssl`"), "{}", e.message());
        assert!(!e.message().contains("pa55word-y"), "{}", e.message());
    }

    #[test]
    fn spark_keys_are_ignored_and_empty_text_is_unset() {
        let o = parse(&[("path", "/x"), ("table", "  ")]).unwrap();
        assert_eq!(o.table, None);
    }

    #[test]
    fn a_missing_default_is_an_internal_error_not_a_silent_fallback() {
        static NO_DEFAULT: OptionSpecs = OptionSpecs::new("test", &[TestOptions::SPECS], &[]);
        let o = NO_DEFAULT.parse([]).unwrap();
        let e = TestOptions::from_options(&o).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.message().contains("`port`"), "{}", e.message());
    }

    #[test]
    fn markdown_table_lists_every_option() {
        let t = SPECS.markdown_table();
        assert!(
            t.contains("| `fetchSize` (also `spark.cassandra.input.fetch.sizeInRows`) | `5000` | Rows per page. (a whole number from 1 to 100000) |"),
            "{t}"
        );
        assert!(
            t.contains("| `port` (also `spark.test.port`) | `9042` |"),
            "{t}"
        );
        assert_eq!(t.lines().count(), 2 + SPECS.len());
    }
}
