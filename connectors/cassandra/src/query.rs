//! The `query` option: a restricted CQL `SELECT` read in place of `keyspace` + `table`.
//!
//! Accepted: `SELECT * | col, ... FROM [ks.]table [WHERE ...] [ALLOW FILTERING] [;]`.
//! The WHERE clause is kept as written and combined with the connector's token ranges, so
//! the read still splits across Spark partitions. What cannot be split exactly (LIMIT,
//! ORDER BY, GROUP BY, aggregates, DISTINCT, bind markers) is refused with the reason.

use spark_ds_core::{Error, Result};

use crate::SYSTEM;

/// A parsed `query` option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CqlQuery {
    pub keyspace: Option<String>,
    pub table: String,
    /// `None` for `SELECT *`.
    pub columns: Option<Vec<String>>,
    /// The WHERE clause as written, without the keyword.
    pub where_clause: Option<String>,
    /// Column names the WHERE clause restricts (case-folded like CQL identifiers).
    pub restricted: Vec<String>,
    pub allow_filtering: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// An unquoted word, lower-cased (CQL folds unquoted identifiers).
    Word(String),
    /// A `"quoted"` identifier, case kept.
    Quoted(String),
    /// A string (`'...'`, `$$...$$`), number, UUID or blob literal.
    Literal,
    Symbol(char),
}

/// A token and its byte span in the query text.
#[derive(Clone, Debug)]
struct Tok {
    start: usize,
    end: usize,
    kind: Kind,
}

fn bad(what: impl Into<String>) -> Error {
    Error::config(SYSTEM, format!("option `query`: {}", what.into()))
}

/// The end of a quoted run starting at `start` (quotes inside are doubled) and its text.
fn quoted(text: &str, start: usize, quote: char) -> Result<(usize, String)> {
    let mut value = String::new();
    let mut i = start + 1;
    loop {
        let Some(j) = text[i..].find(quote) else {
            return Err(bad(format!("unterminated {quote}…{quote} at byte {start}")));
        };
        value.push_str(&text[i..i + j]);
        i += j + 1;
        if text[i..].starts_with(quote) {
            value.push(quote);
            i += 1;
        } else {
            return Ok((i, value));
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let kind = if c.is_ascii_whitespace() {
            i += 1;
            continue;
        } else if c == b'"' {
            let (end, value) = quoted(text, start, '"')?;
            i = end;
            Kind::Quoted(value)
        } else if c == b'\'' {
            i = quoted(text, start, '\'')?.0;
            Kind::Literal
        } else if text[i..].starts_with("$$") {
            let Some(j) = text[i + 2..].find("$$") else {
                return Err(bad(format!("unterminated $$…$$ at byte {start}")));
            };
            i += j + 4;
            Kind::Literal
        } else if c.is_ascii_digit() {
            // Numbers, UUIDs, blobs, exponents: the content does not matter here.
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || b"_.-+".contains(&bytes[i]))
            {
                i += 1;
            }
            Kind::Literal
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            Kind::Word(text[start..i].to_ascii_lowercase())
        } else {
            let ch = text[i..].chars().next().unwrap_or_default();
            i += ch.len_utf8();
            Kind::Symbol(ch)
        };
        out.push(Tok {
            start,
            end: i,
            kind,
        });
    }
    Ok(out)
}

fn identifier(t: Option<&Tok>, what: &str) -> Result<String> {
    match t.map(|t| &t.kind) {
        Some(Kind::Word(w)) => Ok(w.clone()),
        Some(Kind::Quoted(q)) => Ok(q.clone()),
        _ => Err(bad(format!("expected {what}"))),
    }
}

fn is_word(t: Option<&Tok>, word: &str) -> bool {
    matches!(t.map(|t| &t.kind), Some(Kind::Word(w)) if w == word)
}

fn is_symbol(t: Option<&Tok>, symbol: char) -> bool {
    matches!(t.map(|t| &t.kind), Some(Kind::Symbol(c)) if *c == symbol)
}

/// Words that make a select impossible to split exactly over token ranges.
const UNSPLITTABLE: &[(&str, &str)] = &[
    ("limit", "LIMIT"),
    ("order", "ORDER BY"),
    ("group", "GROUP BY"),
    ("per", "PER PARTITION LIMIT"),
];

impl CqlQuery {
    pub fn parse(text: &str) -> Result<CqlQuery> {
        let tokens = tokenize(text)?;
        let mut it = tokens.iter().peekable();
        if !is_word(it.next(), "select") {
            return Err(bad("must start with SELECT"));
        }
        if is_word(it.peek().copied(), "distinct") || is_word(it.peek().copied(), "json") {
            return Err(bad(
                "SELECT DISTINCT and SELECT JSON are not supported; select columns",
            ));
        }
        let columns = if is_symbol(it.peek().copied(), '*') {
            it.next();
            None
        } else {
            let mut cols = Vec::new();
            loop {
                let col = identifier(it.next(), "a column name after SELECT or `,`")?;
                if is_symbol(it.peek().copied(), '(') {
                    return Err(bad(format!(
                        "`{col}(…)`: functions and aggregates are not supported (for writetime/ttl use the options `writetimeColumns`, `ttlColumns`)"
                    )));
                }
                if is_word(it.peek().copied(), "as") {
                    return Err(bad("aliases (AS) are not supported; rename in Spark"));
                }
                cols.push(col);
                if !is_symbol(it.peek().copied(), ',') {
                    break;
                }
                it.next();
            }
            Some(cols)
        };
        if !is_word(it.next(), "from") {
            return Err(bad("expected FROM after the selected columns"));
        }
        let first = identifier(it.next(), "a table name after FROM")?;
        let (keyspace, table) = if is_symbol(it.peek().copied(), '.') {
            it.next();
            let table = identifier(it.next(), "a table name after `keyspace.`")?;
            (Some(first), table)
        } else {
            (None, first)
        };
        // The rest: [WHERE ...] [ALLOW FILTERING] [;]
        let mut rest: &[Tok] = &tokens[tokens.len() - it.count()..];
        if let [body @ .., last] = rest {
            if is_symbol(Some(last), ';') {
                rest = body;
            }
        }
        let mut allow_filtering = false;
        if let [body @ .., allow, filtering] = rest {
            if is_word(Some(allow), "allow") && is_word(Some(filtering), "filtering") {
                allow_filtering = true;
                rest = body;
            }
        }
        for t in rest {
            if let Kind::Word(w) = &t.kind {
                if let Some((_, name)) = UNSPLITTABLE.iter().find(|(k, _)| k == w) {
                    return Err(bad(format!(
                        "{name} cannot be split over token ranges exactly; apply it in Spark"
                    )));
                }
            }
            if is_symbol(Some(t), '?') || is_symbol(Some(t), ':') {
                return Err(bad(
                    "bind markers are not supported; write the values in the query",
                ));
            }
        }
        let where_clause = match rest {
            [] => None,
            [w, condition @ ..] if is_word(Some(w), "where") => match condition {
                [first, .., last] => Some(text[first.start..last.end].to_string()),
                [only] => Some(text[only.start..only.end].to_string()),
                [] => return Err(bad("WHERE needs a condition")),
            },
            [other, ..] => {
                return Err(bad(format!(
                    "unexpected `{}` after the table name (expected WHERE or ALLOW FILTERING)",
                    &text[other.start..other.end]
                )));
            }
        };
        Ok(CqlQuery {
            keyspace,
            table,
            columns,
            where_clause,
            restricted: restricted_columns(rest),
            allow_filtering,
        })
    }

    /// Whether the WHERE clause restricts any of `partition_key` (or uses `token()`): then
    /// the query runs as written, as one Spark partition, since CQL refuses to combine
    /// those with token ranges.
    pub fn restricts_partition(&self, partition_key: &[String]) -> bool {
        self.restricted
            .iter()
            .any(|c| c == "token" || partition_key.contains(c))
    }
}

/// The identifiers of a WHERE clause: words that are not CQL keywords or function names.
fn restricted_columns(clause: &[Tok]) -> Vec<String> {
    const KEYWORDS: &[&str] = &[
        "where", "and", "in", "contains", "key", "true", "false", "null", "not", "like", "is",
    ];
    let mut out: Vec<String> = Vec::new();
    for (i, t) in clause.iter().enumerate() {
        let call = is_symbol(clause.get(i + 1), '(');
        let name = match &t.kind {
            Kind::Word(w) if w == "token" => w.clone(),
            // A word followed by `(` is a function call (`now()`), not a column.
            Kind::Word(w) if !KEYWORDS.contains(&w.as_str()) && !call => w.clone(),
            Kind::Quoted(q) => q.clone(),
            _ => continue,
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_table_where_and_allow_filtering() {
        let q = CqlQuery::parse(
            r#"select id, "Name" FROM shop.orders WHERE status = 'it''s ; done' AND total > 1.5 ALLOW FILTERING;"#,
        )
        .unwrap();
        assert_eq!(q.keyspace.as_deref(), Some("shop"));
        assert_eq!(q.table, "orders");
        assert_eq!(q.columns, Some(vec!["id".into(), "Name".into()]));
        assert_eq!(
            q.where_clause.as_deref(),
            Some("status = 'it''s ; done' AND total > 1.5")
        );
        assert!(q.allow_filtering);
        assert_eq!(q.restricted, vec!["status", "total"]);
        assert!(!q.restricts_partition(&["id".into()]));
        assert!(q.restricts_partition(&["status".into()]));

        let q = CqlQuery::parse("SELECT * FROM t").unwrap();
        assert_eq!((q.keyspace, q.columns, q.where_clause), (None, None, None));
        assert!(!q.allow_filtering);

        let q = CqlQuery::parse("SELECT * FROM t WHERE token(k) > 0").unwrap();
        assert!(q.restricts_partition(&["x".into()]));
        let q = CqlQuery::parse("SELECT * FROM t WHERE c > now()").unwrap();
        assert_eq!(q.restricted, vec!["c"]);
    }

    #[test]
    fn refuses_what_cannot_be_split_exactly() {
        let err = |q: &str| CqlQuery::parse(q).unwrap_err().message().to_string();
        assert!(err("UPDATE t SET a = 1").contains("must start with SELECT"));
        assert!(err("SELECT * FROM t LIMIT 10").contains("LIMIT cannot be split"));
        assert!(err("SELECT * FROM t WHERE k = 1 ORDER BY c").contains("ORDER BY"));
        assert!(err("SELECT count(*) FROM t").contains("functions and aggregates"));
        assert!(err("SELECT DISTINCT k FROM t").contains("DISTINCT"));
        assert!(err("SELECT a AS b FROM t").contains("aliases"));
        assert!(err("SELECT * FROM t WHERE k = ?").contains("bind markers"));
        assert!(err("SELECT * FROM t WHERE a = 'x").contains("unterminated"));
        assert!(err("SELECT * FROM t foo").contains("unexpected `foo`"));
        assert!(err("SELECT * t").contains("expected FROM"));
        // A keyword inside a string literal is just text.
        assert!(CqlQuery::parse("SELECT * FROM t WHERE a = 'limit 5' ALLOW FILTERING").is_ok());
    }
}
