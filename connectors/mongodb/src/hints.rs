//! Spark DDL (`price DECIMAL(10,2), tags ARRAY<STRING>`) for option `schemaHints`, parsed
//! into the Arrow types PySpark's `to_arrow_schema` makes, and Spark's spelling of those
//! types for messages.

use std::sync::Arc;

use arrow_schema::{DataType, Field, FieldRef, Fields, Schema, TimeUnit};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// The list item field Spark expects.
pub fn list_item(data_type: DataType) -> FieldRef {
    Arc::new(Field::new("element", data_type, true))
}

/// The map entries field Spark expects.
pub fn map_entries(key: DataType, value: DataType) -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key, false),
            Field::new("value", value, true),
        ])),
        false,
    ))
}

/// Spark's timestamp type as Arrow (UTC instants).
pub fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Parses option `schemaHints`: comma-separated `name TYPE` pairs (a `:` after the name
/// is allowed, names may be back-quoted).
pub fn parse(ddl: &str) -> Result<Schema> {
    let mut p = Parser {
        tokens: tokenize(ddl)?,
        pos: 0,
    };
    let mut fields: Vec<Field> = Vec::new();
    if p.tokens.is_empty() {
        return Err(hint_error("is empty; give `name TYPE` pairs"));
    }
    loop {
        let (name, dt) = p.field()?;
        if fields.iter().any(|f| f.name() == &name) {
            return Err(hint_error(format!("names field `{name}` twice")));
        }
        fields.push(Field::new(name, dt, true));
        match p.next() {
            None => break,
            Some(Tok::Punct(',')) => {}
            Some(t) => return Err(hint_error(format!("expected `,` between fields, got {t}"))),
        }
    }
    Ok(Schema::new(fields))
}

fn hint_error(msg: impl AsRef<str>) -> Error {
    Error::config(
        SYSTEM,
        format!(
            "option `schemaHints` {} (Spark DDL, e.g. `price DECIMAL(10,2), tags ARRAY<STRING>`)",
            msg.as_ref()
        ),
    )
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Quoted(w) => write!(f, "`{w}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '`' {
            chars.next();
            let mut name = String::new();
            loop {
                match chars.next() {
                    Some('`') if chars.peek() == Some(&'`') => {
                        chars.next();
                        name.push('`');
                    }
                    Some('`') => break,
                    Some(ch) => name.push(ch),
                    None => return Err(hint_error("has an unclosed back quote")),
                }
            }
            out.push(Tok::Quoted(name));
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_alphanumeric() || ch == '_' {
                    word.push(ch);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(word));
        } else if "<>(),:".contains(c) {
            chars.next();
            out.push(Tok::Punct(c));
        } else {
            return Err(hint_error(format!("has an unexpected character `{c}`")));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn expect(&mut self, c: char) -> Result<()> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            Some(t) => Err(hint_error(format!("expected `{c}`, got {t}"))),
            None => Err(hint_error(format!("ends where `{c}` was expected"))),
        }
    }

    fn name(&mut self) -> Result<String> {
        match self.next() {
            Some(Tok::Word(w) | Tok::Quoted(w)) => Ok(w),
            Some(t) => Err(hint_error(format!("expected a field name, got {t}"))),
            None => Err(hint_error("ends where a field name was expected")),
        }
    }

    /// `name [:] TYPE [NOT NULL]`
    fn field(&mut self) -> Result<(String, DataType)> {
        let name = self.name()?;
        if self.peek() == Some(&Tok::Punct(':')) {
            self.pos += 1;
        }
        let dt = self.data_type(&name)?;
        // Spark accepts NOT NULL in DDL; the connector reads every field as nullable.
        if matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not")) {
            self.pos += 1;
            match self.next() {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => {}
                _ => {
                    return Err(hint_error(format!(
                        "field `{name}`: expected NULL after NOT"
                    )));
                }
            }
        }
        Ok((name, dt))
    }

    fn number(&mut self, name: &str) -> Result<u32> {
        match self.next() {
            Some(Tok::Word(w)) => w
                .parse()
                .map_err(|_| hint_error(format!("field `{name}`: expected a number, got `{w}`"))),
            _ => Err(hint_error(format!("field `{name}`: expected a number"))),
        }
    }

    fn data_type(&mut self, name: &str) -> Result<DataType> {
        let word = match self.next() {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            Some(t) => {
                return Err(hint_error(format!(
                    "field `{name}`: expected a type, got {t}"
                )));
            }
            None => return Err(hint_error(format!("field `{name}` has no type"))),
        };
        Ok(match word.as_str() {
            "STRING" | "VARCHAR" | "CHAR" => {
                // VARCHAR(n)/CHAR(n) read as STRING, like Spark's DataFrame readers.
                if self.peek() == Some(&Tok::Punct('(')) {
                    self.pos += 1;
                    self.number(name)?;
                    self.expect(')')?;
                }
                DataType::Utf8
            }
            "BOOLEAN" | "BOOL" => DataType::Boolean,
            "TINYINT" | "BYTE" => DataType::Int8,
            "SMALLINT" | "SHORT" => DataType::Int16,
            "INT" | "INTEGER" => DataType::Int32,
            "BIGINT" | "LONG" => DataType::Int64,
            "FLOAT" | "REAL" => DataType::Float32,
            "DOUBLE" => DataType::Float64,
            "BINARY" => DataType::Binary,
            "DATE" => DataType::Date32,
            "TIMESTAMP" | "TIMESTAMP_LTZ" => timestamp(),
            "TIMESTAMP_NTZ" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (mut p, mut s) = (10, 0);
                if self.peek() == Some(&Tok::Punct('(')) {
                    self.pos += 1;
                    p = self.number(name)?;
                    s = 0;
                    if self.peek() == Some(&Tok::Punct(',')) {
                        self.pos += 1;
                        s = self.number(name)?;
                    }
                    self.expect(')')?;
                }
                if !(1..=38).contains(&p) || s > p {
                    return Err(hint_error(format!(
                        "field `{name}`: DECIMAL({p},{s}) needs 1 ≤ precision ≤ 38 and scale ≤ precision"
                    )));
                }
                DataType::Decimal128(p as u8, s as i8)
            }
            "ARRAY" => {
                self.expect('<')?;
                let item = self.data_type(name)?;
                self.expect('>')?;
                DataType::List(list_item(item))
            }
            "MAP" => {
                self.expect('<')?;
                let key = self.data_type(name)?;
                self.expect(',')?;
                let value = self.data_type(name)?;
                self.expect('>')?;
                DataType::Map(map_entries(key, value), false)
            }
            "STRUCT" => {
                self.expect('<')?;
                let mut fields = Vec::new();
                if self.peek() == Some(&Tok::Punct('>')) {
                    self.pos += 1;
                } else {
                    loop {
                        let (n, dt) = self.field()?;
                        fields.push(Field::new(n, dt, true));
                        match self.next() {
                            Some(Tok::Punct(',')) => {}
                            Some(Tok::Punct('>')) => break,
                            _ => {
                                return Err(hint_error(format!(
                                    "field `{name}`: expected `,` or `>` in STRUCT<…>"
                                )));
                            }
                        }
                    }
                }
                DataType::Struct(Fields::from(fields))
            }
            other => {
                return Err(hint_error(format!(
                    "field `{name}`: unknown type `{other}`"
                )));
            }
        })
    }
}

/// Spark's DDL spelling of an Arrow type, for messages.
pub fn spark_type(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 => "STRING".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Binary | DataType::LargeBinary => "BINARY".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        DataType::List(f) => format!("ARRAY<{}>", spark_type(f.data_type())),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "MAP<{}, {}>",
                spark_type(kv[0].data_type()),
                spark_type(kv[1].data_type())
            ),
            other => format!("{other}"),
        },
        DataType::Struct(fields) => format!(
            "STRUCT<{}>",
            fields
                .iter()
                .map(|f| format!("{}: {}", f.name(), spark_type(f.data_type())))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spark_ds_core::ErrorKind;

    fn ddl(schema: &Schema) -> String {
        schema
            .fields()
            .iter()
            .map(|f| format!("{} {}", f.name(), spark_type(f.data_type())))
            .collect::<Vec<_>>()
            .join(", ")
    }

    #[test]
    fn parses_spark_ddl() {
        let s = parse(
            "price DECIMAL(10,2), tags array<string>, `odd name`: map<string, bigint>, \
             s STRUCT<a: INT, b TIMESTAMP NOT NULL>, d date, n timestamp_ntz, f float, x binary, l LONG, v VARCHAR(3)",
        )
        .unwrap();
        assert_eq!(
            ddl(&s),
            "price DECIMAL(10,2), tags ARRAY<STRING>, odd name MAP<STRING, BIGINT>, \
             s STRUCT<a: INT, b: TIMESTAMP>, d DATE, n TIMESTAMP_NTZ, f FLOAT, x BINARY, l BIGINT, v STRING"
        );
        assert_eq!(
            s.field(5).data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, None)
        );
        assert_eq!(
            parse("d decimal").unwrap().field(0).data_type(),
            &DataType::Decimal128(10, 0)
        );
    }

    #[test]
    fn errors_name_the_option_and_field() {
        for (bad, says) in [
            ("", "is empty"),
            ("a INTT", "field `a`: unknown type `INTT`"),
            ("a INT b INT", "expected `,`"),
            ("a DECIMAL(40,2)", "DECIMAL(40,2)"),
            ("a ARRAY<INT", "ends where `>`"),
            ("a", "field `a` has no type"),
            ("a INT, a STRING", "twice"),
            ("`a INT", "unclosed"),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains("schemaHints"), "{}", e.message());
            assert!(e.message().contains(says), "{bad}: {}", e.message());
        }
    }
}
