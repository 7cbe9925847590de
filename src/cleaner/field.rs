//! Helpers shared by the steps: pre-split field paths (no allocation to look a field up) and
//! the `on_failure` / `tag_on_failure` behaviour.

use super::{OnFailure, StepOutcome};
use crate::event::{Event, split_path};
use crate::value::{Key, Map, Value};

/// A field path split once, at configuration time (`http.request.method`,
/// `[http][request][method]`, `@timestamp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    raw: String,
    parts: Vec<Key>,
}

impl FieldPath {
    /// Splits `path` as [`crate::event::split_path`] does.
    pub fn new(path: &str) -> Self {
        FieldPath {
            raw: path.to_string(),
            parts: split_path(path).into_iter().map(Key::new).collect(),
        }
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True if the path names nothing (empty string).
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The value at this path.
    pub fn get<'e>(&self, event: &'e Event) -> Option<&'e Value> {
        let (last, parents) = self.parts.split_last()?;
        let mut map = &event.fields;
        for p in parents {
            map = map.get_key(p)?.as_object()?;
        }
        map.get_key(last)
    }

    /// The object that holds this path's last component, and that component: intermediate
    /// objects are created, and non-object values on the way replaced by objects. None for an
    /// empty path.
    pub fn parent_mut<'s, 'm>(&'s self, fields: &'m mut Map) -> Option<(&'m mut Map, &'s Key)> {
        let (last, parents) = self.parts.split_last()?;
        let mut map = fields;
        for p in parents {
            if !map.get_key(p).is_some_and(Value::is_object) {
                map.insert_key(p, Value::Object(Map::new()));
            }
            map = map.get_key_mut(p)?.as_object_mut()?;
        }
        Some((map, last))
    }

    /// The value at this path, mutably.
    pub fn get_mut<'e>(&self, event: &'e mut Event) -> Option<&'e mut Value> {
        let (last, parents) = self.parts.split_last()?;
        let mut map = &mut event.fields;
        for p in parents {
            map = map.get_key_mut(p)?.as_object_mut()?;
        }
        map.get_key_mut(last)
    }

    /// Sets the value, creating (or replacing non-object) intermediate objects. Allocates
    /// only the keys that do not exist yet.
    pub fn insert(&self, event: &mut Event, value: Value) -> Option<Value> {
        let (map, last) = self.parent_mut(&mut event.fields)?;
        map.insert_key(last, value)
    }

    /// Removes the value and returns it.
    pub fn remove(&self, event: &mut Event) -> Option<Value> {
        let (last, parents) = self.parts.split_last()?;
        let mut map = &mut event.fields;
        for p in parents {
            map = map.get_key_mut(p)?.as_object_mut()?;
        }
        map.remove_key(last)
    }
}

/// What a step does when it fails: `on_failure` and the tags it adds for `tag`.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Tag, drop or dead-letter.
    pub on_failure: OnFailure,
    /// Tags added when `on_failure` is `tag`.
    pub tags: Vec<String>,
}

impl Failure {
    /// `on_failure: tag` with one tag.
    pub fn tag(tag: &str) -> Self {
        Failure {
            on_failure: OnFailure::Tag,
            tags: vec![tag.to_string()],
        }
    }

    /// Applies the failure behaviour to `event`; `reason` is only built for dead letters.
    pub fn fail(&self, event: &mut Event, reason: impl FnOnce() -> String) -> StepOutcome {
        match self.on_failure {
            OnFailure::Tag => {
                for t in &self.tags {
                    event.add_tag(t);
                }
                StepOutcome::Continue
            }
            OnFailure::Drop => StepOutcome::Drop,
            OnFailure::DeadLetter => StepOutcome::DeadLetter(reason()),
        }
    }
}

/// A value rendered as text: strings as they are, other scalars in JSON notation, objects and
/// arrays as compact JSON.
pub fn render(value: &Value, out: &mut String) {
    use std::fmt::Write;
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn paths_read_and_write_nested_fields() {
        let mut e = Event::from_message("m");
        let p = FieldPath::new("[http][request][method]");
        assert_eq!(p.insert(&mut e, value!("GET")), None);
        assert_eq!(e.get("http.request.method"), Some(&value!("GET")));
        assert_eq!(p.insert(&mut e, value!("PUT")), Some(value!("GET")));
        *p.get_mut(&mut e).unwrap() = value!("POST");
        assert_eq!(p.get(&e), Some(&value!("POST")));
        assert_eq!(p.remove(&mut e), Some(value!("POST")));
        assert_eq!(p.get(&e), None);
        // A scalar in the way is replaced by an object.
        FieldPath::new("message.x").insert(&mut e, value!(1));
        assert_eq!(e.fields["message"], value!({"x": 1}));
    }

    #[test]
    fn failure_behaviours() {
        let mut e = Event::from_message("m");
        let mut f = Failure::tag("_x");
        assert_eq!(f.fail(&mut e, || "r".into()), StepOutcome::Continue);
        assert!(e.has_tag("_x"));
        f.on_failure = OnFailure::Drop;
        assert_eq!(f.fail(&mut e, || "r".into()), StepOutcome::Drop);
        f.on_failure = OnFailure::DeadLetter;
        assert_eq!(
            f.fail(&mut e, || "r".into()),
            StepOutcome::DeadLetter("r".into())
        );
    }
}
