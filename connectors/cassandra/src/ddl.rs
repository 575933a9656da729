//! CQL column types chosen with option `columnTypes` for a table `createTable` makes: their
//! parsing, their CQL text, and the check that the DataFrame column can be written to them
//! (the write path's own conversion rules, see [`crate::from_arrow::compatible`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use arrow_schema::{DataType, Schema};
use scylla::client::session::Session;
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType, UserDefinedType};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;
use crate::from_arrow::compatible;
use crate::options::Config;
use crate::schema::nearest_hint;

/// A CQL column type as a user writes it in `columnTypes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CqlType {
    Native(NativeType),
    List(Box<CqlType>),
    Set(Box<CqlType>),
    Map(Box<CqlType>, Box<CqlType>),
    Tuple(Vec<CqlType>),
    Vector(Box<CqlType>, u16),
    Frozen(Box<CqlType>),
    /// A user-defined type of the table's keyspace, by name (as written: quoted or not).
    Udt(String),
}

const NATIVE: &[(&str, NativeType)] = &[
    ("ascii", NativeType::Ascii),
    ("bigint", NativeType::BigInt),
    ("blob", NativeType::Blob),
    ("boolean", NativeType::Boolean),
    ("counter", NativeType::Counter),
    ("date", NativeType::Date),
    ("decimal", NativeType::Decimal),
    ("double", NativeType::Double),
    ("duration", NativeType::Duration),
    ("float", NativeType::Float),
    ("inet", NativeType::Inet),
    ("int", NativeType::Int),
    ("smallint", NativeType::SmallInt),
    ("text", NativeType::Text),
    ("time", NativeType::Time),
    ("timestamp", NativeType::Timestamp),
    ("timeuuid", NativeType::Timeuuid),
    ("tinyint", NativeType::TinyInt),
    ("uuid", NativeType::Uuid),
    ("varchar", NativeType::Text),
    ("varint", NativeType::Varint),
];

impl CqlType {
    /// Parses one CQL type, e.g. `map<text, frozen<list<int>>>`, `vector<float, 3>`,
    /// `frozen<address>`.
    pub fn parse(text: &str) -> std::result::Result<CqlType, String> {
        let mut p = Parser { s: text, pos: 0 };
        let t = p.typ()?;
        p.skip_ws();
        if p.pos != p.s.len() {
            return Err(format!("unexpected `{}`", &p.s[p.pos..]));
        }
        Ok(t)
    }

    /// The CQL text of the type, for CREATE TABLE.
    pub fn cql(&self) -> String {
        match self {
            CqlType::Native(n) => NATIVE
                .iter()
                .find(|(_, t)| t == n)
                .map(|(name, _)| (*name).to_string())
                .unwrap_or_default(),
            CqlType::List(e) => format!("list<{}>", e.cql()),
            CqlType::Set(e) => format!("set<{}>", e.cql()),
            CqlType::Map(k, v) => format!("map<{}, {}>", k.cql(), v.cql()),
            CqlType::Tuple(items) => format!(
                "tuple<{}>",
                items
                    .iter()
                    .map(CqlType::cql)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CqlType::Vector(e, n) => format!("vector<{}, {n}>", e.cql()),
            CqlType::Frozen(e) => format!("frozen<{}>", e.cql()),
            CqlType::Udt(name) => name.clone(),
        }
    }

    /// The driver's type, for the write path's compatibility rules. A UDT's fields are not
    /// known here (the type lives in the keyspace): it stands as a UDT without fields, and
    /// [`writable`] checks only that the column is a struct.
    fn driver(&self, frozen: bool) -> ColumnType<'static> {
        let boxed = |t: &CqlType| Box::new(t.driver(false));
        match self {
            CqlType::Native(n) => ColumnType::Native(n.clone()),
            CqlType::List(e) => ColumnType::Collection {
                frozen,
                typ: CollectionType::List(boxed(e)),
            },
            CqlType::Set(e) => ColumnType::Collection {
                frozen,
                typ: CollectionType::Set(boxed(e)),
            },
            CqlType::Map(k, v) => ColumnType::Collection {
                frozen,
                typ: CollectionType::Map(boxed(k), boxed(v)),
            },
            CqlType::Tuple(items) => {
                ColumnType::Tuple(items.iter().map(|t| t.driver(false)).collect())
            }
            CqlType::Vector(e, n) => ColumnType::Vector {
                typ: boxed(e),
                dimensions: *n,
            },
            CqlType::Frozen(e) => e.driver(true),
            CqlType::Udt(name) => ColumnType::UserDefinedType {
                frozen,
                definition: Arc::new(UserDefinedType {
                    name: Cow::Owned(name.clone()),
                    keyspace: Cow::Borrowed(""),
                    field_types: vec![],
                }),
            },
        }
    }

    fn has_udt(&self) -> bool {
        match self {
            CqlType::Native(_) => false,
            CqlType::List(e) | CqlType::Set(e) | CqlType::Vector(e, _) | CqlType::Frozen(e) => {
                e.has_udt()
            }
            CqlType::Map(k, v) => k.has_udt() || v.has_udt(),
            CqlType::Tuple(items) => items.iter().any(CqlType::has_udt),
            CqlType::Udt(_) => true,
        }
    }
}

/// Whether a DataFrame column of type `dt` can be written to `typ`. Inside a UDT only the
/// struct shape is checked here; its fields are checked against the created table.
pub fn writable(typ: &CqlType, dt: &DataType) -> bool {
    if !typ.has_udt() {
        return compatible(&typ.driver(false), dt);
    }
    let item = |dt: &DataType| match dt {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type().clone())
        }
        _ => None,
    };
    match typ {
        CqlType::Udt(_) => matches!(dt, DataType::Struct(_)),
        CqlType::Frozen(e) => writable(e, dt),
        CqlType::List(e) | CqlType::Set(e) | CqlType::Vector(e, _) => {
            item(dt).is_some_and(|i| writable(e, &i))
        }
        CqlType::Map(k, v) => match dt {
            DataType::Map(entries, _) => match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => {
                    writable(k, kv[0].data_type()) && writable(v, kv[1].data_type())
                }
                _ => false,
            },
            _ => false,
        },
        CqlType::Tuple(items) => match dt {
            DataType::Struct(fields) => {
                fields.len() == items.len()
                    && items
                        .iter()
                        .zip(fields.iter())
                        .all(|(t, f)| writable(t, f.data_type()))
            }
            _ => false,
        },
        CqlType::Native(_) => false,
    }
}

/// Option `columnTypes`, parsed and checked against the DataFrame: `(column, type)` in the
/// order given. Entries are `column:type`, separated by `;` (types hold commas).
pub fn column_types(cfg: &Config, schema: &Schema) -> Result<Vec<(String, CqlType)>> {
    let Some(raw) = &cfg.column_types else {
        return Ok(vec![]);
    };
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut out: Vec<(String, CqlType)> = Vec::new();
    for entry in raw.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((column, text)) = entry.split_once(':') else {
            return Err(bad(format!(
                "entry `{entry}` is not `column:type` (entries are separated by `;`, e.g. `tags:set<text>; id:uuid`)"
            )));
        };
        let (column, text) = (column.trim(), text.trim());
        let Some(field) = schema.fields().iter().find(|f| f.name() == column) else {
            return Err(bad(format!(
                "column `{column}` is not in the DataFrame{}",
                nearest_hint(column, names.iter().copied())
            )));
        };
        if out.iter().any(|(c, _)| c == column) {
            return Err(bad(format!("column `{column}` is given twice")));
        }
        let typ = CqlType::parse(text).map_err(|why| {
            bad(format!(
                "column `{column}`: cannot parse CQL type `{text}`: {why}"
            ))
        })?;
        if !writable(&typ, field.data_type()) {
            let udt = match &typ {
                CqlType::Udt(name) => Some(name),
                CqlType::Frozen(inner) => match inner.as_ref() {
                    CqlType::Udt(name) => Some(name),
                    _ => None,
                },
                _ => None,
            };
            // A misspelt native type parses as a user-defined type: say so.
            let note = udt.map_or(String::new(), |name| {
                format!(
                    " (`{name}` is no native CQL type, so it is taken for a user-defined type, which needs a struct column{})",
                    nearest_hint(name, NATIVE.iter().map(|(n, _)| *n))
                )
            });
            return Err(bad(format!(
                "column `{column}` of Arrow type {} cannot be written to CQL type {}{note}",
                field.data_type(),
                typ.cql()
            )));
        }
        out.push((column.to_string(), typ));
    }
    Ok(out)
}

/// User-defined types by name, as the driver's metadata holds them.
pub type Udts = HashMap<String, Arc<UserDefinedType<'static>>>;

/// The user-defined types of `keyspace` in the session's metadata (none when the keyspace
/// does not exist yet).
pub fn keyspace_udts(session: &Session, keyspace: &str) -> Udts {
    session
        .get_cluster_state()
        .get_keyspace(keyspace)
        .map(|k| k.user_defined_types.clone())
        .unwrap_or_default()
}

/// The full check of `columnTypes` against the keyspace's user-defined types, for the
/// driver before a CREATE: each UDT named must exist, and the DataFrame's struct must be
/// writable to it field by field (what [`column_types`] alone cannot see).
pub fn check_udts(cfg: &Config, schema: &Schema, udts: &Udts) -> Result<()> {
    let keyspace = cfg.keyspace.as_deref().unwrap_or_default();
    for (column, typ) in column_types(cfg, schema)? {
        if !typ.has_udt() {
            continue;
        }
        let resolved = typ.resolved(false, udts).map_err(|name| {
            bad(format!(
                "column `{column}`: user-defined type `{name}` does not exist in keyspace `{keyspace}`{}",
                nearest_hint(&name, udts.keys().map(String::as_str))
            ))
        })?;
        let dt = schema
            .field_with_name(&column)
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null);
        if !compatible(&resolved, &dt) {
            return Err(bad(format!(
                "column `{column}` of Arrow type {dt} cannot be written to CQL type {} (a UDT is written from a struct by field name, each field writable to the UDT's)",
                typ.cql()
            )));
        }
    }
    Ok(())
}

/// A UDT name as CQL stores it: unquoted names are lower-cased, quoted ones kept.
fn stored_name(name: &str) -> String {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_ascii_lowercase(),
    }
}

impl CqlType {
    /// The driver's type with each UDT's definition from `udts`; Err(name) for a UDT
    /// that is not there.
    fn resolved(
        &self,
        frozen: bool,
        udts: &Udts,
    ) -> std::result::Result<ColumnType<'static>, String> {
        let boxed = |t: &CqlType| t.resolved(false, udts).map(Box::new);
        Ok(match self {
            CqlType::Udt(name) => ColumnType::UserDefinedType {
                frozen,
                definition: udts
                    .get(&stored_name(name))
                    .cloned()
                    .ok_or_else(|| stored_name(name))?,
            },
            CqlType::Frozen(e) => e.resolved(true, udts)?,
            CqlType::List(e) => ColumnType::Collection {
                frozen,
                typ: CollectionType::List(boxed(e)?),
            },
            CqlType::Set(e) => ColumnType::Collection {
                frozen,
                typ: CollectionType::Set(boxed(e)?),
            },
            CqlType::Map(k, v) => ColumnType::Collection {
                frozen,
                typ: CollectionType::Map(boxed(k)?, boxed(v)?),
            },
            CqlType::Tuple(items) => ColumnType::Tuple(
                items
                    .iter()
                    .map(|t| t.resolved(false, udts))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            CqlType::Vector(e, n) => ColumnType::Vector {
                typ: boxed(e)?,
                dimensions: *n,
            },
            CqlType::Native(_) => self.driver(frozen),
        })
    }
}

fn bad(message: String) -> Error {
    Error::config(SYSTEM, format!("option `columnTypes`: {message}"))
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s[self.pos..].starts_with(char::is_whitespace) {
            self.pos += self.s[self.pos..].chars().next().map_or(1, char::len_utf8);
        }
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(match self.s[self.pos..].chars().next() {
                Some(found) => format!(
                    "expected `{c}` at `{}`, found `{found}`",
                    &self.s[self.pos..]
                ),
                None => format!("expected `{c}` at the end"),
            })
        }
    }

    /// A plain identifier, or a double-quoted one (kept with its quotes).
    fn ident(&mut self) -> std::result::Result<String, String> {
        self.skip_ws();
        let rest = &self.s[self.pos..];
        if let Some(body) = rest.strip_prefix('"') {
            let mut end = None;
            let mut chars = body.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().is_some_and(|(_, n)| *n == '"') {
                        chars.next();
                    } else {
                        end = Some(i);
                        break;
                    }
                }
            }
            let end = end.ok_or_else(|| format!("unclosed quote in `{rest}`"))?;
            self.pos += end + 2;
            return Ok(rest[..end + 2].to_string());
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(match rest.is_empty() {
                true => "a type is missing".to_string(),
                false => format!("expected a type name at `{rest}`"),
            });
        }
        self.pos += len;
        Ok(rest[..len].to_string())
    }

    fn typ(&mut self) -> std::result::Result<CqlType, String> {
        let name = self.ident()?;
        let lower = name.to_ascii_lowercase();
        let one = |p: &mut Self| -> std::result::Result<Box<CqlType>, String> {
            p.expect('<')?;
            let t = p.typ()?;
            p.expect('>')?;
            Ok(Box::new(t))
        };
        Ok(match lower.as_str() {
            "list" => CqlType::List(one(self)?),
            "set" => CqlType::Set(one(self)?),
            "frozen" => CqlType::Frozen(one(self)?),
            "map" => {
                self.expect('<')?;
                let k = self.typ()?;
                self.expect(',')?;
                let v = self.typ()?;
                self.expect('>')?;
                CqlType::Map(Box::new(k), Box::new(v))
            }
            "tuple" => {
                self.expect('<')?;
                let mut items = vec![self.typ()?];
                while self.eat(',') {
                    items.push(self.typ()?);
                }
                self.expect('>')?;
                CqlType::Tuple(items)
            }
            "vector" => {
                self.expect('<')?;
                let e = self.typ()?;
                self.expect(',')?;
                self.skip_ws();
                let rest = &self.s[self.pos..];
                let len = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let n: u16 = rest[..len].parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("vector dimension must be 1 to 65535, found `{rest}`")
                })?;
                self.pos += len;
                self.expect('>')?;
                CqlType::Vector(Box::new(e), n)
            }
            _ => match NATIVE.iter().find(|(n, _)| *n == lower) {
                Some((_, t)) => CqlType::Native(t.clone()),
                // Anything else names a user-defined type of the keyspace; Cassandra checks
                // that it exists when the table is created.
                None => CqlType::Udt(name),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{Field, Fields};

    fn parse(s: &str) -> CqlType {
        CqlType::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_prints_types() {
        for (text, cql) in [
            ("uuid", "uuid"),
            ("VARCHAR", "text"),
            ("set<text>", "set<text>"),
            (" map < text ,int > ", "map<text, int>"),
            (
                "map<text,frozen<list<int>>>",
                "map<text, frozen<list<int>>>",
            ),
            ("vector<float,3>", "vector<float, 3>"),
            ("frozen<address>", "frozen<address>"),
            ("frozen<\"My \"\"Udt\"\"\">", "frozen<\"My \"\"Udt\"\"\">"),
            ("tuple<int, text, inet>", "tuple<int, text, inet>"),
            (
                "list<frozen<tuple<int,duration>>>",
                "list<frozen<tuple<int, duration>>>",
            ),
        ] {
            assert_eq!(parse(text).cql(), cql, "{text}");
        }
        assert_eq!(
            parse("map<text,int>"),
            CqlType::Map(
                Box::new(CqlType::Native(NativeType::Text)),
                Box::new(CqlType::Native(NativeType::Int))
            )
        );
    }

    #[test]
    fn bad_types_say_where() {
        for (text, says) in [
            ("set<text", "expected `>` at the end"),
            ("map<text>", "expected `,`"),
            ("vector<float, 0>", "vector dimension"),
            ("vector<float, x>", "vector dimension"),
            ("list<>", "expected a type name at `>`"),
            ("", "a type is missing"),
            ("int extra", "unexpected `extra`"),
            ("frozen<\"open>", "unclosed quote"),
        ] {
            let e = CqlType::parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    fn cfg(column_types: &str) -> Config {
        Config::parse(&[("columntypes".to_string(), column_types.to_string())]).unwrap()
    }

    fn df() -> Schema {
        let item = |t: DataType| Arc::new(Field::new("element", t, true));
        Schema::new(vec![
            Field::new("id", DataType::Utf8, true),
            Field::new("tags", DataType::List(item(DataType::Utf8)), true),
            Field::new("emb", DataType::List(item(DataType::Float32)), true),
            Field::new("ip", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "addr",
                DataType::Struct(Fields::from(vec![Field::new(
                    "street",
                    DataType::Utf8,
                    true,
                )])),
                true,
            ),
        ])
    }

    #[test]
    fn udts_are_checked_field_by_field() {
        let address = Arc::new(UserDefinedType {
            name: Cow::Borrowed("address"),
            keyspace: Cow::Borrowed("ks"),
            field_types: vec![
                (
                    Cow::Borrowed("street"),
                    ColumnType::Native(NativeType::Text),
                ),
                (Cow::Borrowed("zip"), ColumnType::Native(NativeType::Int)),
            ],
        });
        let udts: Udts = [("address".to_string(), address)].into_iter().collect();
        let ok = |types: &str| check_udts(&cfg(types), &df(), &udts);
        ok("addr:frozen<Address>; id:uuid").unwrap();
        ok("addr:frozen<\"address\">").unwrap();
        let e = ok("addr:frozen<adress>").unwrap_err();
        assert!(
            e.message()
                .contains("user-defined type `adress` does not exist")
                && e.message().contains("did you mean `address`"),
            "{}",
            e.message()
        );
        // A DataFrame field the UDT lacks.
        let mut fields: Vec<Field> = df().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[5] = Field::new(
            "addr",
            DataType::Struct(Fields::from(vec![Field::new(
                "stret",
                DataType::Utf8,
                true,
            )])),
            true,
        );
        let e = check_udts(&cfg("addr:frozen<address>"), &Schema::new(fields), &udts).unwrap_err();
        assert!(
            e.message()
                .contains("cannot be written to CQL type frozen<address>"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn column_types_are_checked_against_the_dataframe() {
        let got = column_types(
            &cfg("id:uuid; tags: set<text> ;emb:vector<float, 3>;ip:inet;n:time;addr:frozen<address>;"),
            &df(),
        )
        .unwrap();
        let got: Vec<(String, String)> = got.into_iter().map(|(c, t)| (c, t.cql())).collect();
        assert_eq!(
            got,
            [
                ("id", "uuid"),
                ("tags", "set<text>"),
                ("emb", "vector<float, 3>"),
                ("ip", "inet"),
                ("n", "time"),
                ("addr", "frozen<address>"),
            ]
            .map(|(c, t)| (c.to_string(), t.to_string()))
        );
        let message = |s: &str| {
            column_types(&cfg(s), &df())
                .unwrap_err()
                .message()
                .to_string()
        };
        assert!(message("tgas:set<text>").contains("did you mean `tags`"));
        assert!(message("tags:sett<text>").contains("cannot parse CQL type `sett<text>`"));
        assert!(message("tags:set<text").contains("`columnTypes`"));
        assert!(
            message("n:uuid")
                .contains("column `n` of Arrow type Int64 cannot be written to CQL type uuid")
        );
        assert!(message("id:frozen<address>").contains("cannot be written"));
        assert!(
            message("id:uuidd").contains("taken for a user-defined type"),
            "{}",
            message("id:uuidd")
        );
        assert!(message("id:uuidd").contains("did you mean `uuid`"));
        assert!(message("tags:set<int>").contains("cannot be written"));
        assert!(message("tags").contains("is not `column:type`"));
        assert!(message("id:uuid;id:text").contains("given twice"));
        assert!(
            column_types(&Config::parse(&[]).unwrap(), &df())
                .unwrap()
                .is_empty()
        );
    }
}
