//! Fast path: serialising a line straight into its record value (the binary record
//! [`Event::encode`](crate::event::Event::encode) would produce for the event the builder
//! makes), without building a map per line. Lines that need tags (lossy UTF-8, truncation)
//! or sources whose `fields` reuse an ECS key fall back to building the event.

use super::event_builder::EventBuilder;
use crate::event::Event;
use crate::value::binary;

/// An event already serialised as its record value, with its source id.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    /// The record value of the event's fields (what `Event::encode()` gives).
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
    /// The static fields (`host`, the source's `fields`, `tags`), already in binary form,
    /// and how many there are; None if the fast path cannot be used for this source.
    tail: Option<(Vec<u8>, usize)>,
}

/// The source id (`{fp:016x}-{offset}`) written into `b`; returns its length.
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
        let tail = (!clash).then(|| {
            let mut t = Vec::new();
            binary::write_fields(&stat, &mut t);
            (t, stat.len())
        });
        FastEncoder { tail }
    }

    /// Appends the record value of one line to `v`: `@timestamp`, `message`, `log.file.path`,
    /// `log.offset`, then the static fields, in the order the builder adds them. False if the
    /// fast path does not apply (then `v` may hold a partial value: the caller truncates it).
    pub fn encode_into(
        &self,
        v: &mut Vec<u8>,
        ts: &str,
        path: &str,
        offset: u64,
        bytes: &[u8],
        flags: u8,
    ) -> bool {
        let Some((tail, statics)) = self.tail.as_ref() else {
            return false;
        };
        if flags != 0 || (!bytes.is_ascii() && std::str::from_utf8(bytes).is_err()) {
            return false;
        }
        v.reserve(bytes.len() + ts.len() + path.len() + tail.len() + 48);
        v.extend_from_slice(&[binary::MAGIC, binary::VERSION]);
        binary::write_varint(3 + *statics as u64, v);
        binary::write_str(b"@timestamp", v);
        binary::write_string_value(ts.as_bytes(), v);
        binary::write_str(b"message", v);
        binary::write_string_value(bytes, v);
        binary::write_str(b"log", v);
        binary::write_object_start(2, v);
        binary::write_str(b"file", v);
        binary::write_object_start(1, v);
        binary::write_str(b"path", v);
        binary::write_string_value(path.as_bytes(), v);
        binary::write_str(b"offset", v);
        binary::write_uint_value(offset, v);
        v.extend_from_slice(tail);
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
            prop_assert!(enc.encode_into(&mut v, ts, &path, off, msg.as_bytes(), 0));
            let built = b.build_at(ts, Some(&path), Some(fp), off, msg.as_bytes(), 0);
            // The very bytes `Event::encode` writes for the built event (same fields, same
            // order), which read back as that event.
            prop_assert_eq!(&v[4..], &built.encode()[..]);
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
        assert!(!enc.encode_into(&mut v, "t", "p", 0, b"\xff", 0));
        assert!(!enc.encode_into(&mut v, "t", "p", 0, b"x", 1));
        let long_invalid = [&[b'a'; 40][..], b"\xc3\x28", &[b'b'; 20][..]].concat();
        assert!(!enc.encode_into(&mut v, "t", "p", 0, &long_invalid, 0));
        let long_valid = "é".repeat(30);
        assert!(enc.encode_into(&mut v, "t", "p", 0, long_valid.as_bytes(), 0));
        let mut f = Map::new();
        f.insert("log.level", Value::from("x"));
        let clash = EventBuilder::new(Some("h".into()), &f, &[]);
        assert!(!FastEncoder::new(&clash).encode_into(&mut v, "t", "p", 0, b"x", 0));
    }
}
