//! Turning a line (or a multiline group) into an [`Event`] with ECS fields.

use super::identity::source_id;
use super::lines::{FLAG_LINE_TRUNCATED, FLAG_MULTILINE_TRUNCATED};
use crate::event::{Event, TAGS};
use crate::value::{Map, Value};

/// Tag of events whose bytes were not valid UTF-8 (decoded lossily, with U+FFFD).
pub const TAG_UTF8_LOSSY: &str = "_utf8_lossy";
/// Tag of events cut at `max_line_bytes`.
pub const TAG_LINE_TRUNCATED: &str = "_line_truncated";
/// Tag of multiline events that reached `max_lines` or `max_bytes`.
pub const TAG_MULTILINE_TRUNCATED: &str = "_multiline_truncated";

/// Builds events; holds what is the same for every event of a source.
#[derive(Debug)]
pub(crate) struct EventBuilder {
    host: Value,
    fields: Vec<(crate::value::Str, Value)>,
    tags: Vec<Value>,
    ts: String,
}

/// The machine's host name (empty if it cannot be read).
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for `len` bytes; gethostname NUL-terminates when it fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let n = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Decodes `bytes`; returns the text and whether the decoding was lossy. A multi-byte character
/// cut by truncation at the very end is dropped, not replaced.
fn decode(bytes: &[u8], truncated: bool) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), false),
        Err(e) if truncated && e.error_len().is_none() => {
            let valid = &bytes[..e.valid_up_to()];
            (String::from_utf8_lossy(valid).into_owned(), false)
        }
        Err(_) => (String::from_utf8_lossy(bytes).into_owned(), true),
    }
}

impl EventBuilder {
    /// A builder adding `fields` (top level, dotted keys nest), `tags` and `host.name`.
    pub fn new(host: Option<String>, fields: &Map, tags: &[String]) -> Self {
        let mut b = EventBuilder {
            host: Value::from(host.unwrap_or_else(host_name)),
            fields: fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            tags: tags.iter().map(Value::from).collect(),
            ts: String::new(),
        };
        b.refresh_time();
        b
    }

    /// The fields every event of the source carries: `host.name`, `fields`, `tags`.
    pub fn static_fields(&self) -> Map {
        let mut e = Event::default();
        e.insert("host.name", self.host.clone());
        for (k, v) in &self.fields {
            e.insert(k, v.clone());
        }
        if !self.tags.is_empty() {
            e.fields
                .insert(TAGS.to_string(), Value::Array(self.tags.clone()));
        }
        e.fields
    }

    /// The current `@timestamp` text.
    pub fn now_text() -> String {
        chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    }

    /// Takes the current time as `@timestamp` of the following events (RFC 3339, ms, UTC).
    pub fn refresh_time(&mut self) {
        self.ts = Self::now_text();
    }

    /// Builds the event of the line at `offset` of `path` (None for stdin); `fp` gives the
    /// source id. `@timestamp` is the time of the last [`EventBuilder::refresh_time`].
    pub fn build(
        &self,
        path: Option<&str>,
        fp: Option<u64>,
        offset: u64,
        bytes: &[u8],
        flags: u8,
    ) -> Event {
        self.build_at(&self.ts, path, fp, offset, bytes, flags)
    }

    /// Like [`EventBuilder::build`] with the given `@timestamp` text.
    pub fn build_at(
        &self,
        ts: &str,
        path: Option<&str>,
        fp: Option<u64>,
        offset: u64,
        bytes: &[u8],
        flags: u8,
    ) -> Event {
        let (message, lossy) = decode(bytes, flags & FLAG_LINE_TRUNCATED != 0);
        let mut m = Map::new();
        m.insert("@timestamp", Value::from(ts));
        m.insert("message", Value::from(message));
        let mut log = Map::new();
        if let Some(p) = path {
            let mut file = Map::new();
            file.insert("path", Value::from(p));
            log.insert("file", Value::Object(file));
        }
        log.insert("offset", Value::from(offset));
        m.insert("log", Value::Object(log));
        let mut host = Map::new();
        host.insert("name", self.host.clone());
        m.insert("host", Value::Object(host));
        let mut e = Event {
            fields: m,
            source_id: fp.map(|fp| source_id(fp, offset)),
        };
        for (k, v) in &self.fields {
            e.insert(k, v.clone());
        }
        if !self.tags.is_empty() {
            e.fields
                .insert(TAGS.to_string(), Value::Array(self.tags.clone()));
        }
        if lossy {
            e.add_tag(TAG_UTF8_LOSSY);
        }
        if flags & FLAG_LINE_TRUNCATED != 0 {
            e.add_tag(TAG_LINE_TRUNCATED);
        }
        if flags & FLAG_MULTILINE_TRUNCATED != 0 {
            e.add_tag(TAG_MULTILINE_TRUNCATED);
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    #[test]
    fn builds_ecs_fields_and_tags() {
        let mut fields = Map::new();
        fields.insert("service", value!("nginx"));
        fields.insert("labels.env", value!("prod"));
        let b = EventBuilder::new(Some("h1".into()), &fields, &["web".into()]);
        let e = b.build(Some("/var/log/a.log"), Some(7), 42, b"bad \xff", 0);
        assert_eq!(e.get_str("message"), Some("bad \u{fffd}"));
        assert_eq!(e.get_str("log.file.path"), Some("/var/log/a.log"));
        assert_eq!(e.get("log.offset"), Some(&value!(42)));
        assert_eq!(e.get_str("host.name"), Some("h1"));
        assert_eq!(e.get_str("service"), Some("nginx"));
        assert_eq!(e.get_str("labels.env"), Some("prod"));
        assert_eq!(e.fields["tags"], value!(["web", "_utf8_lossy"]));
        assert_eq!(e.source_id.as_deref(), Some("0000000000000007-42"));
        let ts = e.get_str("@timestamp").unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
    }

    #[test]
    fn truncation_inside_a_character_is_not_lossy() {
        let b = EventBuilder::new(Some("h".into()), &Map::new(), &[]);
        let e = b.build(
            None,
            None,
            0,
            "ab\u{e9}".as_bytes().split_last().unwrap().1,
            FLAG_LINE_TRUNCATED,
        );
        assert_eq!(e.get_str("message"), Some("ab"));
        assert!(e.has_tag(TAG_LINE_TRUNCATED) && !e.has_tag(TAG_UTF8_LOSSY));
    }
}
