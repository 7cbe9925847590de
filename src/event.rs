//! The event: the unit that flows from the shipper through the cleaner to the sinks.
//!
//! An event is a JSON object (ECS field names: `@timestamp`, `message`, `log.file.path`,
//! `log.offset`, `host.name`, `tags`, …) plus an optional *source id*: the deterministic
//! identity of the line it came from (file fingerprint + byte offset), which sinks turn into the
//! document `_id` so that a re-sent event overwrites instead of duplicating.
//!
//! Field paths are dotted (`http.request.method`) or in Logstash's bracket form
//! (`[http][request][method]`); both address nested objects. Fields under `@metadata` are kept
//! for later steps and conditions but never sent to a sink ([`Event::to_sink_value`]).

use crate::value::{Map, Str, Value};

/// Name of the field that holds tags (an array of strings).
pub const TAGS: &str = "tags";
/// Name of the metadata object, never sent to sinks.
pub const METADATA: &str = "@metadata";
/// Name of the record header that carries the source id in the durable log.
pub const SOURCE_ID_HEADER: &str = "sid";

/// One event: a JSON object and its source id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// The event's fields, nested as in the documents sent to Elasticsearch.
    pub fields: Map,
    /// Deterministic identity of the input this event came from, if any.
    pub source_id: Option<String>,
}

/// Splits a field path (`a.b.c` or `[a][b][c]`) into its components.
///
/// A path that starts with `[` is read in bracket form only, so `[a.b]` names the single key
/// `a.b`; otherwise dots separate components. A path without separators is one component.
pub fn split_path(path: &str) -> Vec<&str> {
    if let Some(rest) = path.strip_prefix('[') {
        rest.trim_end_matches(']')
            .split("][")
            .filter(|s| !s.is_empty())
            .collect()
    } else if path == "@timestamp" || !path.contains('.') {
        vec![path]
    } else {
        path.split('.').filter(|s| !s.is_empty()).collect()
    }
}

impl Event {
    /// An event holding only `message`.
    pub fn from_message(message: impl Into<String>) -> Self {
        let mut fields = Map::new();
        fields.insert("message", Value::String(Str::from(message.into())));
        Event {
            fields,
            source_id: None,
        }
    }

    /// The value at `path`, if present.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let parts = split_path(path);
        let (last, parents) = parts.split_last()?;
        let mut map = &self.fields;
        for p in parents {
            map = map.get(p)?.as_object()?;
        }
        map.get(last)
    }

    /// A mutable reference to the value at `path`, if present.
    pub fn get_mut(&mut self, path: &str) -> Option<&mut Value> {
        let parts = split_path(path);
        let (last, parents) = parts.split_last()?;
        let mut map = &mut self.fields;
        for p in parents {
            map = map.get_mut(p)?.as_object_mut()?;
        }
        map.get_mut(last)
    }

    /// The string at `path`, if present and a string.
    pub fn get_str(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// Sets `path` to `value`, creating intermediate objects (and replacing non-object
    /// intermediate values). Returns the previous value.
    pub fn insert(&mut self, path: &str, value: Value) -> Option<Value> {
        let parts = split_path(path);
        let (last, parents) = parts.split_last()?;
        let mut map = &mut self.fields;
        for p in parents {
            let slot = map.get_or_insert_with(p, || Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            map = match slot {
                Value::Object(m) => m,
                _ => return None,
            };
        }
        map.insert(*last, value)
    }

    /// Removes the value at `path` and returns it. Empty parent objects are left in place.
    pub fn remove(&mut self, path: &str) -> Option<Value> {
        let parts = split_path(path);
        let (last, parents) = parts.split_last()?;
        let mut map = &mut self.fields;
        for p in parents {
            map = map.get_mut(p)?.as_object_mut()?;
        }
        map.remove(last)
    }

    /// True if `path` is present.
    pub fn contains(&self, path: &str) -> bool {
        self.get(path).is_some()
    }

    /// Adds `tag` to the `tags` array (creating it; converting a scalar into an array) unless
    /// it is already there.
    pub fn add_tag(&mut self, tag: &str) {
        let slot = self
            .fields
            .get_or_insert_with(TAGS, || Value::Array(Vec::new()));
        if !slot.is_array() {
            let old = slot.take();
            *slot = Value::Array(if old.is_null() { vec![] } else { vec![old] });
        }
        if let Value::Array(tags) = slot
            && !tags.iter().any(|t| t.as_str() == Some(tag))
        {
            tags.push(Value::from(tag));
        }
    }

    /// True if the event carries `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        match self.fields.get(TAGS) {
            Some(Value::Array(tags)) => tags.iter().any(|t| t.as_str() == Some(tag)),
            Some(Value::String(s)) => s == tag,
            _ => false,
        }
    }

    /// A serialisable view of the fields sent to sinks (all but `@metadata`), without cloning
    /// the map: what [`Event::to_sink_value`] returns, for the hot path.
    pub fn sink_fields(&self) -> SinkFields<'_> {
        SinkFields(&self.fields)
    }

    /// The event as sent to sinks: every field but `@metadata`.
    pub fn to_sink_value(&self) -> Map {
        let mut m = self.fields.clone();
        m.remove(METADATA);
        m
    }

    /// Serialises the fields (including `@metadata`): the record value in the durable log, in
    /// the binary form of [`crate::value::binary`] (see `docs/storage-format.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        crate::value::binary::write_record(&self.fields, &mut out);
        out
    }

    /// A record value as text for people and tools (`sluice consume`): an event record as the
    /// JSON object of its fields, anything else as it is.
    pub fn record_text(value: &[u8]) -> std::borrow::Cow<'_, [u8]> {
        match crate::value::binary::read_record(value) {
            Ok(fields) => {
                let mut out = Vec::with_capacity(value.len() + 64);
                crate::json::write_object_except(&fields, None, &mut out);
                std::borrow::Cow::Owned(out)
            }
            Err(_) => std::borrow::Cow::Borrowed(value),
        }
    }

    /// Appends the fields sent to sinks (all but `@metadata`) as compact JSON: what
    /// serialising [`Event::sink_fields`] writes, faster.
    pub fn write_sink_json(&self, out: &mut Vec<u8>) {
        crate::json::write_object_except(&self.fields, Some(METADATA), out);
    }

    /// Reads a record value back into an event: the binary form [`Event::encode`] writes, or
    /// a JSON object (records of earlier versions, documents, `sluice produce`). Anything else
    /// becomes an event whose `message` is the value, lossily decoded. (JSON objects are
    /// parsed by [`crate::json::parse_object`], serde_json deciding whatever it does not take.)
    pub fn decode(value: &[u8], source_id: Option<String>) -> Self {
        if value.first() == Some(&crate::value::binary::MAGIC) {
            match crate::value::binary::read_record(value) {
                Ok(fields) => return Event { fields, source_id },
                Err(e) => tracing::warn!(
                    error = %e,
                    source_id = source_id.as_deref().unwrap_or(""),
                    "damaged event record: kept whole as the event's message"
                ),
            }
        } else if let Some(fields) = crate::json::parse_object(value) {
            return Event { fields, source_id };
        } else if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(value) {
            return Event { fields, source_id };
        }
        let mut e = Event::from_message(String::from_utf8_lossy(value).into_owned());
        e.source_id = source_id;
        e
    }
}

/// The fields of an event as sent to sinks (all but `@metadata`); see [`Event::sink_fields`].
pub struct SinkFields<'a>(&'a Map);

impl serde::Serialize for SinkFields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let n = self.0.len() - usize::from(self.0.contains_key(METADATA));
        let mut m = s.serialize_map(Some(n))?;
        for (k, v) in self.0 {
            if k != METADATA {
                m.serialize_entry(k.as_str(), v)?;
            }
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn dotted_and_bracket_paths_address_the_same_nested_field() {
        let mut e = Event::default();
        e.insert("http.request.method", value!("GET"));
        assert_eq!(e.get("[http][request][method]"), Some(&value!("GET")));
        assert_eq!(e.fields["http"]["request"]["method"], value!("GET"));
        assert_eq!(e.remove("[http][request][method]"), Some(value!("GET")));
        assert!(!e.contains("http.request.method"));
    }

    #[test]
    fn timestamp_is_one_component() {
        let mut e = Event::default();
        e.insert("@timestamp", value!("x"));
        assert_eq!(e.fields["@timestamp"], value!("x"));
    }

    #[test]
    fn tags_are_deduplicated_and_scalars_promoted() {
        let mut e = Event::from_message("m");
        e.insert("tags", value!("a"));
        e.add_tag("b");
        e.add_tag("b");
        assert_eq!(e.fields["tags"], value!(["a", "b"]));
        assert!(e.has_tag("a") && e.has_tag("b") && !e.has_tag("c"));
    }

    #[test]
    fn metadata_is_not_sent_to_sinks_but_survives_encoding() {
        let mut e = Event::from_message("m");
        e.insert("@metadata.x", value!(1));
        assert!(!e.to_sink_value().contains_key("@metadata"));
        assert_eq!(
            serde_json::to_value(e.sink_fields()).unwrap(),
            serde_json::Value::from(Value::Object(e.to_sink_value()))
        );
        let back = Event::decode(&e.encode(), Some("id".into()));
        assert_eq!(back.get("@metadata.x"), Some(&value!(1)));
        assert_eq!(back.source_id.as_deref(), Some("id"));
    }

    #[test]
    fn records_are_binary_and_json_records_still_read() {
        let mut e = Event::from_message("a \"quoted\" line");
        e.insert("log.offset", value!(42));
        let binary = e.encode();
        assert_eq!(binary.first(), Some(&crate::value::binary::MAGIC));
        assert_eq!(Event::decode(&binary, None), e);
        let mut json = Vec::new();
        crate::json::write_object_except(&e.fields, None, &mut json);
        assert_eq!(Event::decode(&json, None), e);
        assert_eq!(&*Event::record_text(&binary), &json[..]);
        assert_eq!(&*Event::record_text(b"plain"), b"plain");
    }

    #[test]
    fn a_damaged_binary_record_is_kept_as_its_message() {
        let mut bytes = Event::from_message("m").encode();
        bytes.push(0);
        let e = Event::decode(&bytes, Some("sid".into()));
        assert_eq!(
            e.get_str("message"),
            Some(&*String::from_utf8_lossy(&bytes))
        );
        assert_eq!(e.source_id.as_deref(), Some("sid"));
    }

    #[test]
    fn non_json_record_becomes_message() {
        let e = Event::decode(b"plain \xff line", None);
        assert_eq!(e.get_str("message"), Some("plain \u{fffd} line"));
    }
}
