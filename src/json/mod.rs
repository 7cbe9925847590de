//! JSON for the hot paths.
//!
//! **Writing** (this module): the shipper's record values, the log records of events and the
//! Elasticsearch bulk bodies. The output is byte for byte what `serde_json` writes for the same
//! value (same escaping, same number forms, map keys in the map's order); strings are scanned
//! 16 bytes at a time (SSE2), which makes it about twice as fast as `serde_json::to_writer` on
//! log events (see `cargo bench --bench worker`).
//!
//! **Parsing** ([`parse_object`]): a record's value back into [`Value`]s, equal to what
//! `serde_json::from_slice` returns, with the same 16-byte string scan.

use crate::value::{Map, Value};

mod parse;
pub use parse::{MAX_DEPTH, parse_object};

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

/// True for the bytes JSON strings escape.
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
pub fn escape_into(s: &[u8], out: &mut Vec<u8>) -> bool {
    if s.len() < 16
        && let Some(ascii) = short_plain(s, out)
    {
        return ascii;
    }
    out.reserve(s.len() + 8);
    let mut ascii = true;
    let mut run = 0;
    let mut i = 0;
    while i + 16 <= s.len() {
        let (special, high) = scan16(s, i);
        ascii &= !high;
        run = escape_marked(s, i, special, run, out);
        i += 16;
    }
    let rest = s.len() - i;
    if rest > 0 {
        // The last 1–15 bytes in one scan too: the 16 bytes ending at the end of `s` when
        // there are that many (the bits of bytes already scanned shifted out; their being
        // non-ASCII was already counted), else a copy padded with spaces (which need no
        // escape and are ASCII).
        let (special, high) = if s.len() >= 16 {
            let (m, high) = scan16(s, s.len() - 16);
            (m >> (16 - rest), high)
        } else {
            let mut pad = [b' '; 16];
            pad[..rest].copy_from_slice(&s[i..]);
            scan16(&pad, 0)
        };
        ascii &= !high;
        run = escape_marked(s, i, special, run, out);
    }
    out.extend_from_slice(&s[run..]);
    ascii
}

/// A string of fewer than 16 bytes with nothing to escape (most keys and many values), read
/// as two overlapping words (never through memory: a block assembled on the stack and read
/// back as one vector stalled on store forwarding), checked eight bytes at a time and
/// written as the same two words. Returns whether it is ASCII, or `None` (nothing written)
/// when a byte needs an escape.
#[inline]
fn short_plain(s: &[u8], out: &mut Vec<u8>) -> Option<bool> {
    let n = s.len();
    let len = out.len();
    if n >= 8 {
        let lo = u64::from_le_bytes(s[..8].try_into().ok()?);
        let hi = u64::from_le_bytes(s[n - 8..].try_into().ok()?);
        if needs_escape8(lo) || needs_escape8(hi) {
            return None;
        }
        out.extend_from_slice(&lo.to_le_bytes());
        out.truncate(len + n - 8);
        out.extend_from_slice(&hi.to_le_bytes());
        Some((lo | hi) & HIGH_BITS == 0)
    } else if n >= 4 {
        let lo = u32::from_le_bytes(s[..4].try_into().ok()?);
        let hi = u32::from_le_bytes(s[n - 4..].try_into().ok()?);
        // Both overlapping halves in one word.
        let word = u64::from(lo) | u64::from(hi) << 32;
        if needs_escape8(word) {
            return None;
        }
        out.extend_from_slice(&lo.to_le_bytes());
        out.truncate(len + n - 4);
        out.extend_from_slice(&hi.to_le_bytes());
        Some(word & HIGH_BITS == 0)
    } else {
        if s.iter().any(|&b| needs_escape(b)) {
            return None;
        }
        out.extend_from_slice(s);
        Some(s.is_ascii())
    }
}

const ONE_BYTES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// True if one of the eight bytes of `x` is a control character, `"` or a backslash (exact:
/// the word tricks of "Bit Twiddling Hacks", `hasless` and `haszero`).
#[inline]
fn needs_escape8(x: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONE_BYTES) & !v & HIGH_BITS != 0;
    let control = x.wrapping_sub(ONE_BYTES * 0x20) & !x & HIGH_BITS != 0;
    control
        || has_zero(x ^ (ONE_BYTES * u64::from(b'"')))
        || has_zero(x ^ (ONE_BYTES * u64::from(b'\\')))
}

/// Writes out `s[run..]` up to and including each byte marked in `special` (bit k for
/// `s[at + k]`), lowest first, each marked byte escaped; returns where the unwritten run now
/// starts.
#[inline]
fn escape_marked(
    s: &[u8],
    at: usize,
    mut special: u32,
    mut run: usize,
    out: &mut Vec<u8>,
) -> usize {
    while special != 0 {
        let k = at + special.trailing_zeros() as usize;
        out.extend_from_slice(&s[run..k]);
        push_escape(s[k], out);
        run = k + 1;
        special &= special - 1;
    }
    run
}

/// `"<escaped s>"`.
pub fn json_string(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 2);
    v.push(b'"');
    escape_into(s.as_bytes(), &mut v);
    v.push(b'"');
    v
}

/// Appends `value` as compact JSON.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(v, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_object_except(map, None, out),
    }
}

/// Appends `map` as a compact JSON object (keys in the map's order), leaving out the
/// top-level key `skip` if given.
pub fn write_object_except(map: &Map, skip: Option<&str>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut first = true;
    for (k, v) in map {
        if skip == Some(k.as_str()) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(k, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

/// Appends `s` as a JSON string (with quotes).
#[inline]
pub fn write_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    escape_into(s.as_bytes(), out);
    out.push(b'"');
}

fn write_number(n: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
    } else {
        // Floats (finite by construction of `Number`) as serde_json writes them.
        let _ = serde_json::to_writer(&mut *out, n);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn the_word_check_is_exact() {
        for filler in [b'a', 0xff, 0x20, 0x80] {
            for b in 0..=255u8 {
                for at in 0..8 {
                    let mut w = [filler; 8];
                    w[at] = b;
                    let want = w.iter().any(|&x| needs_escape(x));
                    assert_eq!(needs_escape8(u64::from_le_bytes(w)), want, "{w:?}");
                }
            }
        }
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let w = [a, b, b'x', 0xc3, b'y', a, b, 0x7f];
                let want = w.iter().any(|&x| needs_escape(x));
                assert_eq!(needs_escape8(u64::from_le_bytes(w)), want, "{w:?}");
            }
        }
    }

    #[test]
    fn escaping_of_every_special_byte_and_utf8() {
        let s = "a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{1f}é😀 long enough to use words \" end";
        assert_eq!(json_string(s), serde_json::to_vec(s).unwrap());
    }

    /// Any JSON value: every number form, strings with every special and non-ASCII
    /// character, nested arrays and objects (keys of both kinds). Shared with the parser's
    /// tests.
    pub(crate) fn value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            "\\PC*",
            "[\\x00-\\x7f]{0,40}",
            "[\\x00-\\x1f\"\\\\/a-z\u{e9}\u{20ac}\u{1F600}]{0,24}",
            proptest::collection::vec(any::<char>(), 0..24).prop_map(|c| c.into_iter().collect()),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            text.prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z@\"]{0,6}|\\PC{0,12}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_writes(v in value()) {
            let mut out = Vec::new();
            write_value(&v, &mut out);
            prop_assert_eq!(out, serde_json::to_vec(&v).unwrap());
        }
    }

    #[test]
    fn leaves_out_the_skipped_key() {
        let v = crate::value!({"@metadata": {"x": 1}, "a": "b", "z": [1.5, -2, null, true]});
        let mut out = Vec::new();
        write_object_except(v.as_object().unwrap(), Some("@metadata"), &mut out);
        assert_eq!(out, br#"{"a":"b","z":[1.5,-2,null,true]}"#);
    }
}
