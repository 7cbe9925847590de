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

/// Where the offset's decimal digits start in a source id (after 16 hex digits and `-`).
pub(crate) const SOURCE_ID_DIGITS: usize = 17;

/// The source id (`{fp:016x}-{offset}`) written into `b`; returns its length. The offset's
/// decimal digits are `b[SOURCE_ID_DIGITS..len]`.
pub(crate) fn source_id_into(fp: u64, offset: u64, b: &mut [u8; 40]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, c) in b.iter_mut().take(16).enumerate() {
        *c = HEX[((fp >> (60 - 4 * i)) & 15) as usize];
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
    len
}

impl FastEncoder {
    /// An encoder for the events `builder` makes.
    pub fn new(builder: &EventBuilder) -> Self {
        let stat = builder.static_fields();
        let clash = ["@timestamp", "message", "log"]
            .iter()
            .any(|k| stat.contains_key(k));
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

    /// Appends the record value of one line to `v` (`offset_digits`: the line's offset in
    /// decimal). False if the fast path does not apply (then `v` may hold a partial value: the
    /// caller truncates it).
    pub fn encode_into(
        &self,
        v: &mut Vec<u8>,
        ts: &str,
        path_json: &[u8],
        offset_digits: &[u8],
        bytes: &[u8],
        flags: u8,
    ) -> bool {
        let Some(tail) = self.tail.as_ref() else {
            return false;
        };
        if flags != 0 {
            return false;
        }
        v.reserve(bytes.len() + ts.len() + path_json.len() + tail.len() + 80);
        v.extend_from_slice(b"{\"@timestamp\":\"");
        v.extend_from_slice(ts.as_bytes());
        v.extend_from_slice(b"\",\"message\":\"");
        if !escape_into(bytes, v) && std::str::from_utf8(bytes).is_err() {
            return false;
        }
        v.extend_from_slice(b"\",\"log\":{\"file\":{\"path\":");
        v.extend_from_slice(path_json);
        v.extend_from_slice(b"},\"offset\":");
        v.extend_from_slice(offset_digits);
        v.push(b'}');
        v.extend_from_slice(tail);
        v.push(b'}');
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::identity::source_id;
    use crate::value::{Map, Value};
    use proptest::prelude::*;

    fn builder() -> EventBuilder {
        let mut f = Map::new();
        f.insert("service", crate::value!("web"));
        f.insert("labels.env", crate::value!("prod"));
        EventBuilder::new(Some("h\"1".into()), &f, &["t1".into()])
    }

    proptest! {
        #[test]
        fn fast_encoding_decodes_to_the_built_event(msg in "\\PC*|[\\x00-\\x7f]*", path in "[a-z/\"\\\\ ]{1,20}", fp: u64, off: u64) {
            let b = builder();
            let enc = FastEncoder::new(&b);
            let ts = "2024-01-01T00:00:00.000Z";
            let mut v = b"junk".to_vec();
            let mut sid = [0u8; 40];
            let n = source_id_into(fp, off, &mut sid);
            let digits = &sid[SOURCE_ID_DIGITS..n];
            prop_assert!(enc.encode_into(&mut v, ts, &json_string(&path), digits, msg.as_bytes(), 0));
            let built = b.build_at(ts, Some(&path), Some(fp), off, msg.as_bytes(), 0);
            prop_assert_eq!(Event::decode(&v[4..], built.source_id.clone()), built);
            let want = source_id(fp, off);
            prop_assert_eq!(&sid[..n], want.as_bytes());
        }
    }

    #[test]
    fn fallbacks() {
        let b = builder();
        let enc = FastEncoder::new(&b);
        let mut v = Vec::new();
        assert!(!enc.encode_into(&mut v, "t", b"\"p\"", b"0", b"\xff", 0));
        assert!(!enc.encode_into(&mut v, "t", b"\"p\"", b"0", b"x", 1));
        let long_invalid = [&[b'a'; 40][..], b"\xc3\x28", &[b'b'; 20][..]].concat();
        assert!(!enc.encode_into(&mut v, "t", b"\"p\"", b"0", &long_invalid, 0));
        let long_valid = "é".repeat(30);
        assert!(enc.encode_into(&mut v, "t", b"\"p\"", b"0", long_valid.as_bytes(), 0));
        let mut f = Map::new();
        f.insert("log.level", Value::from("x"));
        let clash = EventBuilder::new(Some("h".into()), &f, &[]);
        assert!(!FastEncoder::new(&clash).encode_into(&mut v, "t", b"\"p\"", b"0", b"x", 0));
    }
}
