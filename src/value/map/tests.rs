//! The map: order, replacement, removal, equality, repeated keys, prepared keys.

use super::*;

#[test]
fn keeps_insertion_order_and_replaces_in_place() {
    let mut m = Map::new();
    assert_eq!(m.insert("b", Value::from(1)), None);
    assert_eq!(m.insert("a", Value::from(2)), None);
    assert_eq!(m.insert("b", Value::from(3)), Some(Value::from(1)));
    let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["b", "a"]);
    assert_eq!(m["b"], Value::from(3));
    assert_eq!(m["zz"], Value::Null);
}

#[test]
fn removal_keeps_the_others_in_order() {
    let mut m: Map = [("a", Value::from(1)), ("b", 2.into()), ("c", 3.into())]
        .into_iter()
        .collect();
    assert_eq!(m.remove("b"), Some(Value::from(2)));
    assert_eq!(m.remove("b"), None);
    let keys: Vec<&str> = m.keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["a", "c"]);
}

#[test]
fn equality_ignores_order_but_not_content() {
    let a: Map = [("x", Value::from(1)), ("y", 2.into())]
        .into_iter()
        .collect();
    let b: Map = [("y", Value::from(2)), ("x", 1.into())]
        .into_iter()
        .collect();
    let c: Map = [("y", Value::from(2)), ("x", 9.into())]
        .into_iter()
        .collect();
    let d: Map = [("x", Value::from(1))].into_iter().collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
    assert_ne!(d, a);
}

#[test]
fn bulk_inserts_resolve_repeats_like_single_inserts() {
    for n in [3usize, 40, 300] {
        let keys: Vec<String> = (0..n).map(|i| format!("k{}", i % (n / 3 + 1))).collect();
        let mut one_by_one = Map::new();
        for (i, k) in keys.iter().enumerate() {
            one_by_one.insert(k.as_str(), Value::from(i));
        }
        let bulk: Map = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), Value::from(i)))
            .collect();
        let a: Vec<(&Str, &Value)> = one_by_one.iter().collect();
        let b: Vec<(&Str, &Value)> = bulk.iter().collect();
        assert_eq!(a, b, "n = {n}");
    }
}

#[test]
fn append_moves_fields_and_replaces_repeats_in_place() {
    let mut a: Map = [("x", Value::from(1)), ("y", 2.into())]
        .into_iter()
        .collect();
    let mut b: Map = [("z", Value::from(3)), ("x", 9.into())]
        .into_iter()
        .collect();
    a.append(&mut b);
    assert!(b.is_empty());
    let fields: Vec<(&str, &Value)> = a.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert_eq!(
        fields,
        [("x", &Value::from(9)), ("y", &2.into()), ("z", &3.into())]
    );
}

#[test]
fn tags_of_equal_keys_are_equal() {
    for k in [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "@timestamp",
        "http.request.method",
    ] {
        assert_eq!(tag(k.as_bytes()), tag(k.to_string().as_bytes()));
    }
    assert_ne!(tag(b"ab"), tag(b"ba"));
}

#[test]
fn prepared_keys_find_what_plain_keys_insert() {
    let mut m = Map::new();
    m.insert("verb", Value::from("GET"));
    let verb = Key::new("verb");
    assert_eq!(m.get_key(&verb), Some(&Value::from("GET")));
    assert!(m.insert_new_key(&verb, Value::from(1)).is_err());
    assert_eq!(m.insert_key(&Key::new("n"), Value::from(2)), None);
    assert_eq!(m["n"], 2);
    assert_eq!(m.remove_key(&verb), Some(Value::from("GET")));
    assert_eq!(m.get_key(&verb), None);
}

#[test]
fn get_or_insert_with_inserts_once() {
    let mut m = Map::new();
    *m.get_or_insert_with("n", || Value::from(1)) = Value::from(5);
    let v = m.get_or_insert_with("n", || Value::from(1));
    assert_eq!(*v, Value::from(5));
    assert_eq!(m.len(), 1);
}
