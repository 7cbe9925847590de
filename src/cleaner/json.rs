//! The `json` step: parse a field holding JSON into the event root or a target field.

use super::field::{Failure, FieldPath};
use super::{Step, StepOutcome};
use crate::event::Event;
use crate::value::Value;

/// Configuration of a `json` step.
#[derive(Debug, Clone)]
pub struct JsonConfig {
    /// The field holding JSON text. Default `message`.
    pub field: String,
    /// Where the parsed value goes. Default: none — the parsed object's keys are merged into
    /// the event root (replacing fields of the same name); then the JSON must be an object.
    pub target: Option<String>,
    /// What to do when the text is not valid JSON (or not an object without `target`).
    /// Default: tag `_jsonparsefailure`.
    pub failure: Failure,
}

impl Default for JsonConfig {
    fn default() -> Self {
        JsonConfig {
            field: "message".into(),
            target: None,
            failure: Failure::tag("_jsonparsefailure"),
        }
    }
}

/// The compiled `json` step.
pub struct JsonStep {
    field: FieldPath,
    target: Option<FieldPath>,
    failure: Failure,
}

impl JsonStep {
    /// Builds the step.
    pub fn new(config: JsonConfig) -> Self {
        JsonStep {
            field: FieldPath::new(&config.field),
            target: config.target.as_deref().map(FieldPath::new),
            failure: config.failure,
        }
    }
}

impl Step for JsonStep {
    fn name(&self) -> &str {
        "json"
    }

    fn apply(&self, event: &mut Event) -> StepOutcome {
        let parsed = match self.field.get(event) {
            None => return StepOutcome::Continue,
            Some(Value::String(s)) => serde_json::from_str::<Value>(s),
            Some(_) => {
                return self.failure.fail(event, || {
                    format!("field `{}` is not a string", self.field.as_str())
                });
            }
        };
        match (parsed, &self.target) {
            (Ok(v), Some(target)) => {
                target.insert(event, v);
                StepOutcome::Continue
            }
            (Ok(Value::Object(map)), None) => {
                // One bulk insert: n log n for an object of many keys.
                event.fields.extend(map);
                StepOutcome::Continue
            }
            (Ok(_), None) => self.failure.fail(event, || {
                format!(
                    "field `{}` holds JSON that is not an object (set `target` to keep it)",
                    self.field.as_str()
                )
            }),
            (Err(e), _) => self.failure.fail(event, || {
                format!("field `{}` is not valid JSON: {e}", self.field.as_str())
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn merges_into_root_or_target() {
        let mut e = Event::from_message(r#"{"level":"info","n":3,"message":"inner"}"#);
        JsonStep::new(JsonConfig::default()).apply(&mut e);
        assert_eq!(e.fields["level"], value!("info"));
        assert_eq!(e.fields["message"], value!("inner"));
        let mut e = Event::from_message("[1,2]");
        JsonStep::new(JsonConfig {
            target: Some("doc.items".into()),
            ..Default::default()
        })
        .apply(&mut e);
        assert_eq!(e.fields["doc"]["items"], value!([1, 2]));
    }

    #[test]
    fn failure_paths() {
        let s = JsonStep::new(JsonConfig::default());
        let mut e = Event::from_message("{not json");
        assert_eq!(s.apply(&mut e), StepOutcome::Continue);
        assert!(e.has_tag("_jsonparsefailure"));
        let mut e = Event::from_message("[1]");
        s.apply(&mut e);
        assert!(e.has_tag("_jsonparsefailure"));
        let mut e = Event::default();
        e.insert("message", value!(5));
        s.apply(&mut e);
        assert!(e.has_tag("_jsonparsefailure"));
        let mut e = Event::default();
        s.apply(&mut e);
        assert!(!e.has_tag("_jsonparsefailure"));
    }
}
