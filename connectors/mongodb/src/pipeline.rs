//! Option `aggregation.pipeline`: the user's stages, run before the pushed-down ones.

use mongodb::bson::{Bson, Document};
use spark_ds_core::{Error, Result};

use crate::SYSTEM;

const OPTION: &str = "aggregation.pipeline";

/// The stages of `text`: a JSON array of stages or one stage, in relaxed or canonical
/// extended JSON. An empty text or `[]` is no stage.
pub fn parse(text: Option<&str>) -> Result<Vec<Document>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(vec![]);
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::config(
            SYSTEM,
            format!("option `{OPTION}` is not valid JSON ({e}): give a JSON array of stages, e.g. `[{{\"$match\": {{\"qty\": {{\"$gt\": 1}}}}}}]`"),
        )
    })?;
    let stages = match value {
        serde_json::Value::Array(items) => items,
        object @ serde_json::Value::Object(_) => vec![object],
        other => {
            return Err(Error::config(
                SYSTEM,
                format!(
                    "option `{OPTION}` must be a JSON array of stages or one stage (an object), got `{other}`"
                ),
            ));
        }
    };
    stages
        .into_iter()
        .enumerate()
        .map(|(i, stage)| stage_document(i, stage))
        .collect()
}

fn stage_document(i: usize, stage: serde_json::Value) -> Result<Document> {
    let shown = stage.to_string();
    let bad = |why: String| {
        Error::config(
            SYSTEM,
            format!("option `{OPTION}`: stage {i} `{shown}` {why}"),
        )
    };
    match Bson::try_from(stage) {
        Ok(Bson::Document(d)) => {
            let mut keys = d.keys();
            match (keys.next(), keys.next()) {
                (Some(k), None) if k.starts_with('$') => Ok(d),
                _ => Err(bad(
                    "is not a stage: a stage is an object with one `$` key, e.g. `{\"$match\": {…}}`".into(),
                )),
            }
        }
        Ok(_) => Err(bad("is not an object".into())),
        Err(e) => Err(bad(format!("is not valid extended JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;
    use spark_ds_core::ErrorKind;

    #[test]
    fn arrays_single_stages_and_extended_json() {
        assert!(parse(None).unwrap().is_empty());
        assert!(parse(Some("  ")).unwrap().is_empty());
        assert!(parse(Some("[]")).unwrap().is_empty());
        let one = parse(Some(r#"{"$match": {"a": 1}}"#)).unwrap();
        assert_eq!(one, vec![doc! {"$match": {"a": 1}}]);
        let ext = parse(Some(
            r#"[{"$match": {"_id": {"$oid": "5f0000000000000000000001"}, "n": {"$numberLong": "7"}}}, {"$limit": 3}]"#,
        ))
        .unwrap();
        assert_eq!(ext.len(), 2);
        let m = ext[0].get_document("$match").unwrap();
        assert!(matches!(m.get("_id"), Some(Bson::ObjectId(_))));
        assert_eq!(m.get("n"), Some(&Bson::Int64(7)));
    }

    #[test]
    fn errors_name_the_option() {
        for bad in [
            "[{",
            "3",
            r#"[{"a": 1}]"#,
            r#"[{"$match": 1, "$limit": 2}]"#,
            "[1]",
        ] {
            let e = parse(Some(bad)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(
                e.message().contains("`aggregation.pipeline`"),
                "{}",
                e.message()
            );
        }
    }
}
