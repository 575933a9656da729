//! Streaming offsets as Spark checkpoints them: small JSON objects of strings.
//!
//! A source that reads in order names a point in that order with a [`Position`]: before
//! everything, or just after a key, with an optional tie-breaker for keys that repeat. The
//! key and tie-breaker are opaque strings the connector encodes (a MongoDB value in
//! canonical extended JSON, a stream offset, a REST cursor), so the checkpoint format does
//! not depend on the system's types, and an offset from another source or another
//! configuration fails to parse with a message saying so instead of reading the wrong range.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A point in a source's order; a micro-batch reads the documents in `(start, end]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Position {
    /// Before the first record.
    Start,
    /// Just after the record with this key (and tie-breaker, when keys repeat).
    After { key: String, tie: Option<String> },
}

/// The JSON field naming the kind of offset, so a checkpoint of another source is refused.
const KIND: &str = "kind";

impl Position {
    /// The offset Spark checkpoints: `{"kind": <kind>, "after": key, "tie": tie}`.
    pub fn to_json(&self, kind: &str) -> String {
        let mut map = Map::new();
        map.insert(KIND.into(), Value::String(kind.into()));
        if let Position::After { key, tie } = self {
            map.insert("after".into(), Value::String(key.clone()));
            if let Some(tie) = tie {
                map.insert("tie".into(), Value::String(tie.clone()));
            }
        }
        Value::Object(map).to_string()
    }

    /// Parses an offset written by [`Position::to_json`] with the same `kind`.
    pub fn from_json(system: &'static str, kind: &str, text: &str) -> Result<Position> {
        let refuse = |why: &str| {
            Error::config(
                system,
                format!(
                    "the stream's checkpoint holds offset {text}, which {why}; a checkpoint belongs to one query: start this one with a new checkpointLocation"
                ),
            )
        };
        let value: Value = serde_json::from_str(text).map_err(|_| refuse("is not JSON"))?;
        let object = value
            .as_object()
            .ok_or_else(|| refuse("is not a JSON object"))?;
        match object.get(KIND).and_then(Value::as_str) {
            Some(k) if k == kind => {}
            _ => return Err(refuse(&format!("is not a `{kind}` offset"))),
        }
        let text_field = |name: &str| -> Result<Option<String>> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(refuse(&format!("has a `{name}` that is not a string"))),
            }
        };
        match (text_field("after")?, text_field("tie")?) {
            (None, None) => Ok(Position::Start),
            (Some(key), tie) => Ok(Position::After { key, tie }),
            (None, Some(_)) => Err(refuse("has a tie-breaker without a key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for p in [
            Position::Start,
            Position::After {
                key: "{\"$numberInt\":\"5\"}".into(),
                tie: None,
            },
            Position::After {
                key: "k".into(),
                tie: Some("t".into()),
            },
        ] {
            assert_eq!(
                Position::from_json("x", "poll", &p.to_json("poll")).unwrap(),
                p
            );
        }
    }

    #[test]
    fn another_kind_or_garbage_is_refused() {
        let e = Position::from_json("x", "poll", &Position::Start.to_json("queue")).unwrap_err();
        assert!(
            e.message().contains("not a `poll` offset"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("checkpointLocation"));
        assert!(Position::from_json("x", "poll", "[1]").is_err());
        assert!(Position::from_json("x", "poll", "{\"kind\":\"poll\",\"tie\":\"t\"}").is_err());
    }
}
