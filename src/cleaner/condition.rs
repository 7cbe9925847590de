//! Conditions (`if:` on any step, and the `drop` step): a small fixed set of tests, not a
//! language. See docs/steps.md.

use super::field::FieldPath;
use crate::event::Event;
use crate::value::Value;
use regex::Regex;

/// A numeric comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// `gt`: greater than.
    Gt,
    /// `gte`: greater than or equal.
    Gte,
    /// `lt`: less than.
    Lt,
    /// `lte`: less than or equal.
    Lte,
}

/// A test on an event.
#[derive(Debug, Clone)]
pub enum Condition {
    /// `exists: FIELD` — the field is present (any value, even null).
    Exists(FieldPath),
    /// `equals: { FIELD: VALUE }` — the field is present and equal (see [`values_equal`]).
    Equals(FieldPath, Value),
    /// `not_equals: { FIELD: VALUE }` — the field is absent or different.
    NotEquals(FieldPath, Value),
    /// `gt`/`gte`/`lt`/`lte: { FIELD: NUMBER }` — the field is a number (or a string holding
    /// one) and compares so; false if absent or not numeric.
    Compare(FieldPath, Compare, f64),
    /// `matches: { FIELD: REGEX }` — the field is a string (numbers and booleans are matched
    /// in their text form) and the regex finds a match in it.
    Matches(FieldPath, Regex),
    /// `has_tag: TAG` — `tags` holds TAG.
    HasTag(String),
    /// `and: [COND, …]` — all hold (true when empty).
    And(Vec<Condition>),
    /// `or: [COND, …]` — at least one holds (false when empty).
    Or(Vec<Condition>),
    /// `not: COND`.
    Not(Box<Condition>),
}

impl Condition {
    /// Evaluates the condition on `event`.
    pub fn eval(&self, event: &Event) -> bool {
        match self {
            Condition::Exists(f) => f.get(event).is_some(),
            Condition::Equals(f, v) => f.get(event).is_some_and(|x| values_equal(x, v)),
            Condition::NotEquals(f, v) => !f.get(event).is_some_and(|x| values_equal(x, v)),
            Condition::Compare(f, op, n) => match f.get(event).and_then(as_number) {
                Some(x) => match op {
                    Compare::Gt => x > *n,
                    Compare::Gte => x >= *n,
                    Compare::Lt => x < *n,
                    Compare::Lte => x <= *n,
                },
                None => false,
            },
            Condition::Matches(f, re) => match f.get(event) {
                Some(Value::String(s)) => re.is_match(s),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => re.is_match(&v.to_string()),
                _ => false,
            },
            Condition::HasTag(t) => event.has_tag(t),
            Condition::And(cs) => cs.iter().all(|c| c.eval(event)),
            Condition::Or(cs) => cs.iter().any(|c| c.eval(event)),
            Condition::Not(c) => !c.eval(event),
        }
    }
}

/// A number, or a string that parses as one.
pub fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Equality used by conditions and `sluice test --check`: JSON equality, except that numbers
/// compare by value (`200` equals `200.0`) and a scalar in the event equals a scalar in the
/// configuration with the same text (`"200"` equals `200`, `"true"` equals `true`), since log
/// fields are often strings until a `convert` step runs.
pub fn values_equal(event: &Value, expected: &Value) -> bool {
    match (event, expected) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::String(a), Value::Number(_) | Value::Bool(_)) => {
            a == expected.to_string() || as_number(event) == as_number(expected)
        }
        (Value::Number(_) | Value::Bool(_), Value::String(b)) => {
            event.to_string() == b || as_number(event) == as_number(expected)
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| values_equal(x, y)))
        }
        _ => event == expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    fn event() -> Event {
        let mut e = Event::from_message("GET /index.html");
        e.insert("status", value!("404"));
        e.insert("bytes", value!(1200));
        e.insert("http.method", value!("GET"));
        e.add_tag("_grokparsefailure");
        e
    }

    #[test]
    fn each_test() {
        let e = event();
        let f = FieldPath::new;
        assert!(Condition::Exists(f("http.method")).eval(&e));
        assert!(!Condition::Exists(f("http.version")).eval(&e));
        assert!(Condition::Equals(f("status"), value!(404)).eval(&e));
        assert!(Condition::Equals(f("bytes"), value!(1200.0)).eval(&e));
        assert!(!Condition::Equals(f("status"), value!(200)).eval(&e));
        assert!(Condition::NotEquals(f("status"), value!(200)).eval(&e));
        assert!(Condition::NotEquals(f("absent"), value!(200)).eval(&e));
        assert!(Condition::Compare(f("status"), Compare::Gte, 400.0).eval(&e));
        assert!(!Condition::Compare(f("status"), Compare::Lt, 400.0).eval(&e));
        assert!(!Condition::Compare(f("http.method"), Compare::Gt, 0.0).eval(&e));
        assert!(Condition::Matches(f("message"), Regex::new(r"\.html$").unwrap()).eval(&e));
        assert!(Condition::Matches(f("bytes"), Regex::new(r"^12").unwrap()).eval(&e));
        assert!(Condition::HasTag("_grokparsefailure".into()).eval(&e));
        let yes = || Condition::Exists(f("message"));
        let no = || Condition::Exists(f("nope"));
        assert!(Condition::And(vec![yes(), yes()]).eval(&e));
        assert!(!Condition::And(vec![yes(), no()]).eval(&e));
        assert!(Condition::Or(vec![no(), yes()]).eval(&e));
        assert!(!Condition::Or(vec![]).eval(&e));
        assert!(Condition::Not(Box::new(no())).eval(&e));
    }
}
