//! Fast path: serialising a line straight into its record value (the JSON object
//! [`Event::encode`](crate::event::Event::encode) would produce, keys possibly in another
//! order), without building a `serde_json` map per line. Lines that need tags (lossy UTF-8,
//! truncation) or sources whose `fields` reuse an ECS key fall back to building the event.

use super::event_builder::EventBuilder;
use crate::event::Event;
pub(crate) use crate::json::{escape_into, json_string};

/// An event already serialised as its record value, with its source id.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    /// The JSON object of the event's fields (what `Event::encode()` gives; key order may
    /// differ).
    pub value: Vec<u8>,
    /// The source id (header `sid`).
    pub source_id: Option<String>,
}

impl EncodedEvent {
    /// The event back as an [`Event`].
    pub fn to_event(&self) -> Event {
        Event::decode(&self.value, self.source_id.clone())
    }
}

/// Serialises lines of one source.
#[derive(Debug)]
pub(crate) struct FastEncoder {
    /// `,"host":{...},<fields>,"tags":[...]` (the static part), or None if the fast path
    /// cannot be used for this source.
    tail: Option<Vec<u8>>,
}

/// The source id, without `format!`.
pub(crate) fn fast_source_id(fp: u64, offset: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut b = [0u8; 40];
    for i in 0..16 {
        b[i] = HEX[((fp >> (60 - 4 * i)) & 15) as usize];
    }
    b[16] = b'-';
    let mut digits = [0u8; 20];
    let (mut n, mut k) = (offset, 20);
    loop {
        k -= 1;
        digits[k] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = 17 + (20 - k);
    b[17..len].copy_from_slice(&digits[k..]);
    // Only ASCII digits, hex and '-' were written.
    String::from_utf8_lossy(&b[..len]).into_owned()
}

impl FastEncoder {
    /// An encoder for the events `builder` makes.
    pub fn new(builder: &EventBuilder) -> Self {
        let stat = builder.static_fields();
        let clash = ["@timestamp", "message", "log"]
            .iter()
            .any(|k| stat.contains_key(*k));
        let tail = if clash {
            None
        } else {
            serde_json::to_vec(&stat).ok().map(|v| {
                // `{...}` → `,...` (or nothing for `{}`).
                let inner = &v[1..v.len() - 1];
                let mut t = Vec::with_capacity(inner.len() + 1);
                if !inner.is_empty() {
                    t.push(b',');
                    t.extend_from_slice(inner);
                }
                t
            })
        };
        FastEncoder { tail }
    }

    /// Serialises one line (`path_json` is the quoted, escaped path). None: use the slow path.
    pub fn encode(
        &self,
        ts: &str,
        path_json: &[u8],
        fp: u64,
        offset: u64,
        bytes: &[u8],
        flags: u8,
    ) -> Option<EncodedEvent> {
        let tail = self.tail.as_ref()?;
        if flags != 0 || std::str::from_utf8(bytes).is_err() {
            return None;
        }
        let mut v = Vec::with_capacity(bytes.len() + ts.len() + path_json.len() + tail.len() + 96);
        v.extend_from_slice(b"{\"@timestamp\":\"");
        v.extend_from_slice(ts.as_bytes());
        v.extend_from_slice(b"\",\"message\":\"");
        escape_into(bytes, &mut v);
        v.extend_from_slice(b"\",\"log\":{\"file\":{\"path\":");
        v.extend_from_slice(path_json);
        v.extend_from_slice(b"},\"offset\":");
        let mut n = [0u8; 20];
        let (mut x, mut k) = (offset, 20);
        loop {
            k -= 1;
            n[k] = b'0' + (x % 10) as u8;
            x /= 10;
            if x == 0 {
                break;
            }
        }
        v.extend_from_slice(&n[k..]);
        v.push(b'}');
        v.extend_from_slice(tail);
        v.push(b'}');
        Some(EncodedEvent {
            value: v,
            source_id: Some(fast_source_id(fp, offset)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::identity::source_id;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    fn builder() -> EventBuilder {
        let mut f = Map::new();
        f.insert("service".into(), json!("web"));
        f.insert("labels.env".into(), json!("prod"));
        EventBuilder::new(Some("h\"1".into()), &f, &["t1".into()])
    }

    proptest! {
        #[test]
        fn fast_encoding_decodes_to_the_built_event(msg in "\\PC*|[\\x00-\\x7f]*", path in "[a-z/\"\\\\ ]{1,20}", fp: u64, off: u64) {
            let b = builder();
            let enc = FastEncoder::new(&b);
            let ts = "2024-01-01T00:00:00.000Z";
            let e = enc.encode(ts, &json_string(&path), fp, off, msg.as_bytes(), 0).unwrap();
            let built = b.build_at(ts, Some(&path), Some(fp), off, msg.as_bytes(), 0);
            prop_assert_eq!(e.to_event(), built);
            prop_assert_eq!(e.source_id.unwrap(), source_id(fp, off));
        }
    }

    #[test]
    fn fallbacks() {
        let b = builder();
        let enc = FastEncoder::new(&b);
        assert!(enc.encode("t", b"\"p\"", 1, 0, b"\xff", 0).is_none());
        assert!(enc.encode("t", b"\"p\"", 1, 0, b"x", 1).is_none());
        let mut f = Map::new();
        f.insert("log.level".into(), Value::from("x"));
        let clash = EventBuilder::new(Some("h".into()), &f, &[]);
        assert!(
            FastEncoder::new(&clash)
                .encode("t", b"\"p\"", 1, 0, b"x", 0)
                .is_none()
        );
    }
}
