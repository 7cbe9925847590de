//! Step chains built from YAML, run over real lines: the shipped Apache pipeline over
//! samples/access.log, failure routing (tag, drop, dead letter) and conditions.

use serde_json::json;
use sluice::cleaner::{Cleaner, Processed};
use sluice::config::{load, load_str};
use sluice::event::Event;
use std::path::Path;

fn chain(steps: &str) -> std::sync::Arc<Cleaner> {
    let text = format!("name: t\nsource: {{ type: stdin }}\ncleaner:\n  steps:\n{steps}");
    load_str(Path::new("t.yaml"), &text, &|_| None)
        .unwrap_or_else(|e| panic!("{e}"))
        .cleaner
        .steps
}

#[test]
fn apache_sample_through_the_shipped_pipeline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plan = load(&root.join("pipelines/apache.yaml")).unwrap().remove(0);
    let text = std::fs::read(root.join("samples/access.log")).unwrap();
    let text = String::from_utf8_lossy(&text);
    let (mut parsed, mut failed) = (0, 0);
    for line in text.lines() {
        let mut e = Event::from_message(line);
        assert_eq!(plan.cleaner.steps.process(&mut e), Processed::Keep);
        if e.has_tag("_grokparsefailure") {
            failed += 1;
            assert!(!e.contains("@timestamp"), "{line}");
            continue;
        }
        parsed += 1;
        assert!(!e.has_tag("_dateparsefailure"), "{line}");
        let ts = e.get_str("@timestamp").unwrap();
        assert!(ts.starts_with("2026-11-24T") && ts.ends_with('Z'), "{ts}");
        assert!(e.get("response").unwrap().is_i64(), "{line}");
        if let Some(b) = e.get("bytes") {
            assert!(b.is_i64(), "{line}");
        }
        assert!(!e.contains("timestamp"));
        let is_error = e.get("response").unwrap().as_i64().unwrap() >= 500;
        assert_eq!(e.contains("http.error"), is_error, "{line}");
    }
    // 400 well-formed lines plus one with a binary request (captured as `rawrequest`); five
    // malformed ones: prose, a truncated line, an empty line, day 99, TLS bytes.
    assert_eq!((parsed, failed), (401, 5));
}

#[test]
fn on_failure_dead_letter_names_the_step_and_the_reason() {
    let c = chain(
        "    - grok: { patterns: ['%{INT:n:int} items'], on_failure: dead_letter }\n      id: count\n    - set: { after: true }\n",
    );
    let mut e = Event::from_message("no number here");
    match c.process(&mut e) {
        Processed::DeadLetter { step, reason } => {
            assert_eq!(step, "count");
            assert!(!reason.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !e.contains("after"),
        "steps after the failing one do not run"
    );
    let mut e = Event::from_message("12 items");
    assert_eq!(c.process(&mut e), Processed::Keep);
    assert_eq!(e.fields["n"], json!(12));
    assert_eq!(e.fields["after"], json!(true));
}

#[test]
fn on_failure_drop_and_custom_tags() {
    let c = chain(
        "    - json: { on_failure: drop }\n    - date: { field: ts, formats: [UNIX], tag_on_failure: [bad_ts, needs_review] }\n",
    );
    let mut e = Event::from_message("not json");
    assert_eq!(
        c.process(&mut e),
        Processed::Dropped {
            step: "json#0".into()
        }
    );
    let mut e = Event::from_message(r#"{"ts": "soon"}"#);
    assert_eq!(c.process(&mut e), Processed::Keep);
    assert_eq!(e.fields["tags"], json!(["bad_ts", "needs_review"]));
}

#[test]
fn conditions_gate_steps_and_drop() {
    let c = chain(
        r#"    - kv: {}
    - drop: { if: { or: [ { equals: { level: debug } }, { matches: { path: '^/health' } } ] } }
    - set: { alert: true }
      if: { and: [ { gte: { status: 500 } }, { not: { has_tag: test } } ] }
    - uppercase: [level]
      if: { exists: level }
    - set: { ok: true }
      if: { not_equals: { status: 500 } }
"#,
    );
    let run = |line: &str| {
        let mut e = Event::from_message(line);
        let p = c.process(&mut e);
        (p, e)
    };
    let (p, _) = run("level=debug status=200");
    assert_eq!(
        p,
        Processed::Dropped {
            step: "drop#1".into()
        }
    );
    let (p, _) = run("level=info path=/healthz");
    assert!(matches!(p, Processed::Dropped { .. }));
    let (p, e) = run("level=error status=503 path=/api");
    assert_eq!(p, Processed::Keep);
    assert_eq!(e.fields["alert"], json!(true));
    assert_eq!(e.fields["level"], json!("ERROR"));
    assert_eq!(e.fields["ok"], json!(true));
    let (_, e) = run("status=500");
    assert_eq!(e.fields["alert"], json!(true));
    assert!(!e.contains("ok") && !e.contains("level"));
    let (_, e) = run("status=404");
    assert!(!e.contains("alert"));
}

#[test]
fn field_steps_from_yaml() {
    let c = chain(
        r#"    - regex: { pattern: '^(?P<user>\w+) (?P<http.method>[A-Z]+) (?P<n>\d+)$' }
    - rename: { user: user.name }
    - convert: { n: float }
    - set: { summary: "%{user.name} did %{http.method}" }
    - lowercase: http.method
    - remove: [message]
"#,
    );
    let mut e = Event::from_message("ann GET 3");
    assert_eq!(c.process(&mut e), Processed::Keep);
    assert_eq!(
        sluice::value::Value::Object(e.fields),
        json!({"user": {"name": "ann"}, "http": {"method": "get"}, "n": 3.0, "summary": "ann did GET"})
    );
}
