//! [`parse_object`] against serde_json: equal whenever it answers, and answering for what
//! records hold.

use super::*;
use proptest::prelude::*;

/// serde_json's answer for `input`, as a map (None when it is not an object), with its fields
/// in the order they come in `input`. It must also equal `serde_json::Value`'s own answer.
fn reference(input: &[u8]) -> Option<Map> {
    let ours = match serde_json::from_slice::<Value>(input) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let theirs = match serde_json::from_slice::<serde_json::Value>(input) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    };
    assert_eq!(
        ours.clone().map(Value::Object),
        theirs.map(serde_json::Value::Object).map(Value::from)
    );
    ours
}

/// The map as text: equal texts mean equal fields in the same order.
fn text(map: &Option<Map>) -> Option<Vec<u8>> {
    map.as_ref().map(|m| {
        let mut out = Vec::new();
        crate::json::write_object_except(m, None, &mut out);
        out
    })
}

/// `parse_object` answers exactly what serde_json does, fields in the same order.
fn same(input: &[u8]) {
    let (parsed, want) = (parse_object(input), reference(input));
    assert_eq!(
        text(&parsed),
        text(&want),
        "{:?}",
        String::from_utf8_lossy(input)
    );
    assert_eq!(parsed, want, "{:?}", String::from_utf8_lossy(input));
}

#[test]
fn records_as_the_shipper_writes_them_are_parsed_here() {
    let inputs: &[&str] = &[
        r#"{"@timestamp":"2026-11-25T09:00:00.000Z","host":{"name":"web-01"},"log":{"file":{"path":"/var/log/a.log"},"offset":123456},"message":"83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET /x HTTP/1.1\" 200 203023 \"-\" \"Mozilla/5.0\""}"#,
        r#"{}"#,
        r#" { "a" : [ 1 , -2 , 3.5 , 1e3 , -0 , 0 , 18446744073709551615 , 123456789012345678901 ] , "b" : [ ] } "#,
        r#"{"t":true,"f":false,"n":null,"e":"","nested":{"x":{"y":[{"z":"w"}]}}}"#,
        r#"{"esc":"q\" b\\ s\/ \b\f\n\r\t \u00e9 \u20ac \ud83d\ude00 \u0000 end"}"#,
        r#"{"utf8":"héllo wörld 日本語 😀 and a long enough run to use the 16-byte scan"}"#,
        r#"{"dup":1,"dup":2}"#,
        "{\"ws\":\t\r\n1}\n",
    ];
    for input in inputs {
        assert!(parse_object(input.as_bytes()).is_some(), "{input}");
        same(input.as_bytes());
    }
}

#[test]
fn many_keys_with_repeats_resolve_as_serde_json_does() {
    let fields: Vec<String> = (0..200)
        .map(|i| format!("\"k{}\":{i}", (i * 7) % 61))
        .collect();
    let input = format!("{{{}}}", fields.join(","));
    assert!(parse_object(input.as_bytes()).is_some());
    same(input.as_bytes());
}

#[test]
fn what_it_does_not_take_goes_to_serde_json() {
    let inputs: &[&[u8]] = &[
        b"",
        b"[1]",
        b"\"s\"",
        b"{\"a\":1} x",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"{\"a\":01}",
        b"{\"a\":-}",
        b"{\"a\":1.}",
        b"{\"a\":\"lone \\ud800\"}",
        b"{\"a\":\"lone \\udc00\"}",
        b"{\"a\":\"bad \\x escape\"}",
        b"{\"a\":\"raw \x01 control\"}",
        b"{\"a\":\"bad utf8 \xff\"}",
        b"{\"a\":tru}",
        b"{\"a\":\"unterminated",
        b"{'a':1}",
    ];
    for input in inputs {
        assert_eq!(
            parse_object(input),
            None,
            "{:?}",
            String::from_utf8_lossy(input)
        );
        same(input);
    }
    let deep = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    assert_eq!(parse_object(deep.as_bytes()), None);
    let shallow = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(MAX_DEPTH - 2),
        "]".repeat(MAX_DEPTH - 2)
    );
    same(shallow.as_bytes());
    assert!(parse_object(shallow.as_bytes()).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Any object serde_json writes (compact, pretty, or by our own writer) is parsed here,
    /// into serde_json's value.
    #[test]
    fn written_objects_parse_to_serde_jsons_value(
        fields in proptest::collection::btree_map("\\PC{0,12}", crate::json::tests::value(), 0..8)
    ) {
        let map: Map = fields.into_iter().collect();
        let value = Value::Object(map.clone());
        for text in [
            serde_json::to_vec(&value).unwrap(),
            serde_json::to_vec_pretty(&value).unwrap(),
            {
                let mut out = Vec::new();
                crate::json::write_object_except(&map, None, &mut out);
                out
            },
        ] {
            let parsed = parse_object(&text);
            prop_assert!(parsed.is_some(), "{}", String::from_utf8_lossy(&text));
            let want = reference(&text);
            prop_assert_eq!(self::text(&parsed), self::text(&want));
            prop_assert_eq!(parsed, want);
        }
    }

    /// Damaged input: whenever it answers, serde_json answers the same.
    #[test]
    fn damaged_input_is_never_answered_differently(
        fields in proptest::collection::btree_map("[a-z\\\\\"]{0,6}", crate::json::tests::value(), 0..5),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut text = serde_json::to_vec(&Value::Object(fields.into_iter().collect())).unwrap();
        for (at, byte) in cuts {
            if text.is_empty() {
                break;
            }
            let i = at.index(text.len());
            match byte % 3 {
                0 => text[i] = byte,
                1 => { text.remove(i); }
                _ => text.insert(i, b"\"\\{}[],:u0-e."[byte as usize % 13]),
            }
        }
        if let Some(parsed) = parse_object(&text) {
            let (parsed, want) = (Some(parsed), reference(&text));
            prop_assert_eq!(self::text(&parsed), self::text(&want));
            prop_assert_eq!(parsed, want);
        }
    }
}
