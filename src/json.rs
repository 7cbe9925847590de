//! Compact JSON writing for the hot paths: the shipper's record values, the log records of
//! events and the Elasticsearch bulk bodies. The output is byte for byte what `serde_json`
//! writes for the same value (same escaping, same number forms, map keys in the map's
//! order); strings are scanned 8 bytes at a time, which makes it about twice as fast as
//! `serde_json::to_writer` on log events (see `cargo bench --bench worker`).

use serde_json::{Map, Value};

/// True if any byte of the 8 in `x` is a control character, `"` or `\`.
#[inline]
fn word_needs_escape(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    // Bytes < 0x20 (ASCII only: bytes >= 0x80 have the high bit set and are excluded by !x).
    let below = x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0;
    below || has_zero(x ^ (ONES * b'"' as u64)) || has_zero(x ^ (ONES * b'\\' as u64))
}

/// Appends `s` as a JSON string body (no quotes), escaping as serde_json does. Runs without
/// anything to escape are skipped 8 bytes at a time.
pub fn escape_into(s: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 8);
    let mut run = 0;
    let mut i = 0;
    while i < s.len() {
        if i + 8 <= s.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&s[i..i + 8]);
            if !word_needs_escape(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let b = s[i];
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&s[run..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
                i += 1;
                run = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&s[run..i]);
        out.extend_from_slice(esc);
        i += 1;
        run = i;
    }
    out.extend_from_slice(&s[run..]);
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

/// Appends `map` as a compact JSON object, leaving out the top-level key `skip` if given.
pub fn write_object_except(map: &Map<String, Value>, skip: Option<&str>, out: &mut Vec<u8>) {
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
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn escaping_matches_serde_json(bytes in proptest::collection::vec(prop_oneof![0u8..0x80, Just(b'"'), Just(b'\\'), 0u8..0x20], 0..64)) {
            let s = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(json_string(&s), serde_json::to_vec(&s).unwrap());
        }
    }

    #[test]
    fn escaping_of_every_special_byte_and_utf8() {
        let s = "a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{1f}é😀 long enough to use words \" end";
        assert_eq!(json_string(s), serde_json::to_vec(s).unwrap());
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            "\\PC*|[\\x00-\\x7f]{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z@\"]{0,6}", inner, 0..6)
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
        let v = json!({"@metadata": {"x": 1}, "a": "b", "z": [1.5, -2, null, true]});
        let mut out = Vec::new();
        write_object_except(v.as_object().unwrap(), Some("@metadata"), &mut out);
        assert_eq!(out, br#"{"a":"b","z":[1.5,-2,null,true]}"#);
    }
}
