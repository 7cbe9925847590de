//! Fast path: serialising a line straight into its record value (the JSON object
//! [`Event::encode`](crate::event::Event::encode) would produce, keys possibly in another
//! order), without building a `serde_json` map per line. Lines that need tags (lossy UTF-8,
//! truncation) or sources whose `fields` reuse an ECS key fall back to building the event.

use super::event_builder::EventBuilder;
use crate::event::Event;

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

/// The escape sequence of a byte that needs one (`"`, backslash, control characters), as
/// serde_json writes it.
#[inline]
fn push_escape(b: u8, out: &mut Vec<u8>) {
    if b == b'"' {
        out.extend_from_slice(b"\\\"");
    } else {
        push_other_escape(b, out);
    }
}

/// [`push_escape`] for everything but `"` (rare in log lines).
#[inline(never)]
fn push_other_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[(b >> 4) as usize],
            HEX[(b & 15) as usize],
        ]),
    }
}

#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Where the first byte needing an escape is among the 16 at `s[i..]` (a bit mask, bit k for
/// byte k), and whether any of them is not ASCII. SSE2 (part of every x86-64 CPU).
#[cfg(target_arch = "x86_64")]
#[inline]
fn scan16(s: &[u8], i: usize) -> (u32, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let chunk = &s[i..i + 16];
    // SAFETY: `chunk` holds 16 readable bytes (the load is unaligned), and SSE2 is part of the
    // x86-64 baseline, so these intrinsics are available on every CPU this code runs on.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1f  <=>  min(v, 0x1f) == v.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
        let special = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        (_mm_movemask_epi8(special) as u32, _mm_movemask_epi8(v) != 0)
    }
}

/// The same without SIMD (other architectures).
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn scan16(s: &[u8], i: usize) -> (u32, bool) {
    let mut mask = 0u32;
    let mut high = false;
    for (k, &b) in s[i..i + 16].iter().enumerate() {
        high |= b >= 0x80;
        if needs_escape(b) {
            mask |= 1 << k;
        }
    }
    (mask, high)
}

/// Appends `s` as a JSON string body (no quotes), escaping as serde_json does, and returns
/// whether `s` is all ASCII (then it is valid UTF-8 without a further check). Runs without
/// anything to escape are scanned 16 bytes at a time and copied in one go.
pub(crate) fn escape_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    out.reserve(s.len() + 8);
    let mut ascii = true;
    let mut run = 0;
    let mut i = 0;
    while i + 16 <= s.len() {
        let (mut special, high) = scan16(s, i);
        ascii &= !high;
        // Every byte to escape in these 16, lowest first, without reloading.
        while special != 0 {
            let k = i + special.trailing_zeros() as usize;
            out.extend_from_slice(&s[run..k]);
            push_escape(s[k], out);
            run = k + 1;
            special &= special - 1;
        }
        i += 16;
    }
    while i < s.len() {
        let b = s[i];
        if b >= 0x80 {
            ascii = false;
        } else if needs_escape(b) {
            out.extend_from_slice(&s[run..i]);
            push_escape(b, out);
            run = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&s[run..]);
    ascii
}

/// `"<escaped s>"`.
pub(crate) fn json_string(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 2);
    v.push(b'"');
    escape_into(s.as_bytes(), &mut v);
    v.push(b'"');
    v
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

    proptest! {
        #[test]
        fn escaping_matches_serde_json(bytes in proptest::collection::vec(prop_oneof![0u8..0x80, Just(b'"'), Just(b'\\'), 0u8..0x20], 0..64)) {
            let s = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(json_string(&s), serde_json::to_vec(&s).unwrap());
        }
    }

    proptest! {
        #[test]
        fn escaping_any_text_matches_serde_json(s in any::<String>(), pad in 0usize..20) {
            let s = format!("{}{s}", "x".repeat(pad));
            let mut out = Vec::new();
            let ascii = escape_into(s.as_bytes(), &mut out);
            prop_assert_eq!(ascii, s.is_ascii());
            let want = serde_json::to_vec(&s).unwrap();
            prop_assert_eq!(&out[..], &want[1..want.len() - 1]);
        }
    }

    #[test]
    fn escaping_of_every_special_byte_and_utf8() {
        let s = "a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{1f}é😀 long enough to use words \" end";
        assert_eq!(json_string(s), serde_json::to_vec(s).unwrap());
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
        f.insert("log.level".into(), Value::from("x"));
        let clash = EventBuilder::new(Some("h".into()), &f, &[]);
        assert!(!FastEncoder::new(&clash).encode_into(&mut v, "t", b"\"p\"", b"0", b"x", 0));
    }
}
