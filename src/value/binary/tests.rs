//! The binary record form: round trips, the exact bytes of the documented layout, and damaged
//! input refused without a panic.

use super::*;
use proptest::prelude::*;

fn record(map: &Map) -> Vec<u8> {
    let mut out = Vec::new();
    write_record(map, &mut out);
    out
}

/// The map as JSON text: equal texts mean equal fields in the same order.
fn text(map: &Map) -> Vec<u8> {
    let mut out = Vec::new();
    crate::json::write_object_except(map, None, &mut out);
    out
}

#[test]
fn the_documented_layout_byte_by_byte() {
    let mut map = Map::new();
    map.insert("m", Value::from("a\"b"));
    map.insert("n", Value::from(300));
    map.insert("neg", Value::from(-1));
    map.insert("f", Value::from(1.5));
    map.insert("t", crate::value!([true, false, null]));
    map.insert("o", crate::value!({"k": "v"}));
    let mut want = vec![0xF5, 0x01, 6];
    want.extend_from_slice(&[1, b'm', 6, 3, b'a', b'"', b'b']);
    want.extend_from_slice(&[1, b'n', 3, 0xAC, 0x02]);
    want.extend_from_slice(&[3, b'n', b'e', b'g', 4, 0]);
    want.extend_from_slice(&[1, b'f', 5]);
    want.extend_from_slice(&1.5f64.to_le_bytes());
    want.extend_from_slice(&[1, b't', 7, 3, 2, 1, 0]);
    want.extend_from_slice(&[1, b'o', 8, 1, 1, b'k', 6, 1, b'v']);
    assert_eq!(record(&map), want);
    assert_eq!(read_record(&want), Ok(map));
}

#[test]
fn extreme_numbers_round_trip() {
    for v in [
        Value::from(0u64),
        Value::from(u64::MAX),
        Value::from(-1i64),
        Value::from(i64::MIN),
        Value::from(-0.0f64),
        Value::from(f64::MAX),
        Value::from(1e-300),
    ] {
        let mut map = Map::new();
        map.insert("x", v.clone());
        let back = read_record(&record(&map)).unwrap();
        assert_eq!(back["x"], v);
        assert_eq!(text(&back), text(&map));
    }
}

#[test]
fn what_is_not_a_record_is_refused() {
    assert_eq!(read_record(b"{\"a\":1}"), Err(BinaryError::NotBinary));
    assert_eq!(read_record(b""), Err(BinaryError::NotBinary));
    assert_eq!(read_record(&[MAGIC]), Err(BinaryError::Truncated(1)));
    assert_eq!(read_record(&[MAGIC, 9, 0]), Err(BinaryError::Version(9)));
    assert_eq!(
        read_record(&[MAGIC, VERSION, 0, 0]),
        Err(BinaryError::Trailing(1))
    );
    assert_eq!(
        read_record(&[MAGIC, VERSION, 1, 1, b'k', 0x42]),
        Err(BinaryError::Tag { tag: 0x42, at: 5 })
    );
    assert_eq!(
        read_record(&[MAGIC, VERSION, 1, 1, 0xff, 0]),
        Err(BinaryError::Utf8(4))
    );
    // A count larger than the bytes left is refused before anything is reserved.
    let mut huge = vec![MAGIC, VERSION];
    write_varint(u64::MAX >> 1, &mut huge);
    assert!(matches!(read_record(&huge), Err(BinaryError::Truncated(_))));
    // NaN is not a JSON number.
    let mut nan = vec![MAGIC, VERSION, 1, 1, b'f', 5];
    nan.extend_from_slice(&f64::NAN.to_le_bytes());
    assert_eq!(read_record(&nan), Err(BinaryError::Number(5)));
    let mut deep = vec![MAGIC, VERSION, 1, 1, b'a'];
    for _ in 0..MAX_DEPTH {
        deep.extend_from_slice(&[ARRAY, 1]);
    }
    deep.push(NULL);
    assert_eq!(read_record(&deep), Err(BinaryError::TooDeep));
}

#[test]
fn repeated_keys_from_elsewhere_keep_the_last_value_in_the_first_place() {
    let bytes = [
        MAGIC, VERSION, 3, 1, b'a', 3, 1, 1, b'b', 3, 2, 1, b'a', 3, 3,
    ];
    let map = read_record(&bytes).unwrap();
    assert_eq!(text(&map), br#"{"a":3,"b":2}"#);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any fields come back equal and in the same order.
    #[test]
    fn any_fields_round_trip(
        fields in proptest::collection::vec(("\\PC{0,12}", crate::json::tests::value()), 0..8)
    ) {
        let map: Map = fields.into_iter().collect();
        let back = read_record(&record(&map));
        prop_assert_eq!(back.as_ref().map(text), Ok(text(&map)));
        prop_assert_eq!(back, Ok(map));
    }

    /// Damaged records are refused or read, never a panic, and never more bytes reserved
    /// than the record holds.
    #[test]
    fn damaged_records_never_panic(
        fields in proptest::collection::vec(("[a-z]{0,4}", crate::json::tests::value()), 0..5),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = record(&fields.into_iter().collect());
        for (at, byte) in cuts {
            let i = at.index(bytes.len());
            match byte % 3 {
                0 => bytes[i] = byte,
                1 => { bytes.truncate(i.max(2)); }
                _ => bytes.insert(i, byte),
            }
        }
        let _ = read_record(&bytes);
    }
}
