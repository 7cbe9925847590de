//! The grok step's behaviour: captures, types, overwrite, empty captures, failures, custom
//! patterns and errors.

use std::collections::BTreeMap;

use sluice::cleaner::grok::{EcsCompatibility, GrokConfig, GrokError, GrokStep};
use sluice::cleaner::{OnFailure, Step, StepOutcome};
use sluice::event::Event;
use sluice::value;
use tempfile::TempDir;

fn cfg(patterns: &[&str]) -> GrokConfig {
    GrokConfig {
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        ..GrokConfig::default()
    }
}

fn apply(config: GrokConfig, line: &str) -> (Event, StepOutcome) {
    let step = GrokStep::new(config).unwrap();
    let mut e = Event::from_message(line);
    let out = step.apply(&mut e);
    (e, out)
}

#[test]
fn typed_captures() {
    let (e, _) = apply(
        cfg(&["%{NUMBER:a:int} %{NUMBER:b:float} %{NUMBER:c}"]),
        "12.7 3 4",
    );
    assert_eq!(e.get("a"), Some(&value!(12)));
    assert_eq!(e.get("b"), Some(&value!(3.0)));
    assert_eq!(e.get("c"), Some(&value!("4")));
}

#[test]
fn nested_ecs_captures_in_both_path_forms() {
    let (e, _) = apply(
        cfg(&["%{WORD:[http][request][method]} %{NOTSPACE:url.original}"]),
        "GET /x",
    );
    assert_eq!(e.fields["http"]["request"]["method"], value!("GET"));
    assert_eq!(e.fields["url"]["original"], value!("/x"));
}

#[test]
fn a_second_value_makes_an_array_unless_overwritten() {
    let (e, _) = apply(cfg(&["%{WORD:message} %{WORD:w} %{WORD:w}"]), "a b c");
    assert_eq!(e.get("message"), Some(&value!(["a b c", "a"])));
    assert_eq!(e.get("w"), Some(&value!(["b", "c"])));
    let mut c = cfg(&["%{WORD:x} %{GREEDYDATA:message}"]);
    c.overwrite = vec!["message".into()];
    let (e, _) = apply(c, "first rest of it");
    assert_eq!(e.get("message"), Some(&value!("rest of it")));
    assert_eq!(e.get("x"), Some(&value!("first")));
}

#[test]
fn empty_captures_are_skipped_unless_kept() {
    let p = "^%{DATA:a}:(?:%{WORD:b})?$";
    let (e, _) = apply(cfg(&[p]), ":");
    assert!(!e.contains("a") && !e.contains("b"));
    let mut c = cfg(&[p]);
    c.keep_empty_captures = true;
    let (e, _) = apply(c, ":");
    assert_eq!(e.get("a"), Some(&value!("")));
    assert_eq!(e.get("b"), Some(&value!(null)));
}

#[test]
fn on_failure_variants() {
    let (e, out) = apply(cfg(&["^%{INT:n}$"]), "nope");
    assert_eq!(out, StepOutcome::Continue);
    assert!(e.has_tag("_grokparsefailure"));
    let mut c = cfg(&["^%{INT:n}$"]);
    c.tag_on_failure = vec!["a".into(), "b".into()];
    let (e, _) = apply(c, "nope");
    assert!(e.has_tag("a") && e.has_tag("b") && !e.has_tag("_grokparsefailure"));
    let mut c = cfg(&["^%{INT:n}$"]);
    c.on_failure = OnFailure::Drop;
    assert_eq!(apply(c, "nope").1, StepOutcome::Drop);
    let mut c = cfg(&["^%{INT:n}$", "^%{IP:ip}$"]);
    c.on_failure = OnFailure::DeadLetter;
    let (e, out) = apply(c, "nope");
    match out {
        StepOutcome::DeadLetter(reason) => {
            assert!(
                reason.contains("^%{INT:n}$") && reason.contains("^%{IP:ip}$"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.has_tag("_grokparsefailure"));
    // A missing field is a failure too.
    let mut c = cfg(&["%{INT:n}"]);
    c.field = "absent".into();
    assert!(apply(c, "1").0.has_tag("_grokparsefailure"));
}

#[test]
fn patterns_are_tried_in_order_and_the_first_match_wins() {
    let (e, _) = apply(
        cfg(&["^%{INT:first}$", "^%{WORD:second}$", "%{GREEDYDATA:third}"]),
        "abc",
    );
    assert_eq!(e.get("second"), Some(&value!("abc")));
    assert!(!e.contains("third") && !e.contains("first"));
}

#[test]
fn unnamed_references_do_not_capture_but_their_inner_named_groups_do() {
    let mut c = cfg(&["%{PAIR} %{PAIR:whole}"]);
    c.pattern_definitions = BTreeMap::from([(
        "PAIR".to_string(),
        "(?<key>\\w+)=%{INT:value:int}".to_string(),
    )]);
    let (e, _) = apply(c, "a=1 b=2");
    assert_eq!(e.get("key"), Some(&value!(["a", "b"])));
    // As in Logstash, a second value is not added to an existing number.
    assert_eq!(e.get("value"), Some(&value!(1)));
    assert_eq!(e.get("whole"), Some(&value!("b=2")));
    assert!(!e.contains("PAIR"));
}

#[test]
fn array_fields_match_if_an_element_does() {
    let step = GrokStep::new(cfg(&["^%{INT:n:int}$"])).unwrap();
    let mut e = Event::default();
    e.insert("message", value!(["x", "42"]));
    step.apply(&mut e);
    assert_eq!(e.get("n"), Some(&value!(42)));
}

#[test]
fn custom_definitions_override_the_library() {
    let mut c = cfg(&["%{WORD:w}"]);
    c.pattern_definitions = BTreeMap::from([("WORD".to_string(), "[0-9]+".to_string())]);
    let (e, _) = apply(c, "abc 123");
    assert_eq!(e.get("w"), Some(&value!("123")));
}

#[test]
fn patterns_dir_files_load_unchanged() {
    let dir = TempDir::new().unwrap();
    std::fs::write(
        dir.path().join("app"),
        "# my app\nAPPID [A-Z]{3}-\\d+\nAPPLINE %{TIMESTAMP_ISO8601:ts} %{APPID:app_id} (?<rest>.*)\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("more"), "OTHER x+\n").unwrap();
    let mut c = cfg(&["%{APPLINE}"]);
    c.patterns_dir = vec![dir.path().to_path_buf()];
    let (e, _) = apply(c, "2024-01-02T03:04:05Z ABC-12 hello there");
    assert_eq!(e.get("app_id"), Some(&value!("ABC-12")));
    assert_eq!(e.get("rest"), Some(&value!("hello there")));
    // A single file works as well.
    let mut c = cfg(&["%{OTHER:o}"]);
    c.patterns_dir = vec![dir.path().join("more")];
    assert_eq!(apply(c, "xxx").0.get("o"), Some(&value!("xxx")));
}

#[test]
fn errors_name_the_pattern_and_the_problem() {
    let err = GrokStep::new(cfg(&["%{IPORHOTS:client}"])).unwrap_err();
    assert!(matches!(err, GrokError::UnknownPattern { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("%{IPORHOTS:client}") && msg.contains("did you mean `IPORHOST`"),
        "{msg}"
    );

    let msg = GrokStep::new(cfg(&["%{WORD:w} (unclosed"]))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("bad regular expression") && msg.contains("(unclosed"),
        "{msg}"
    );

    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nope");
    let mut c = cfg(&["%{WORD}"]);
    c.patterns_dir = vec![missing.clone()];
    let err = GrokStep::new(c).unwrap_err();
    assert!(matches!(err, GrokError::PatternsDir { .. }));
    assert!(err.to_string().contains(&missing.display().to_string()));

    std::fs::write(dir.path().join("bad"), "GOOD a\nNAMEONLY\n").unwrap();
    let mut c = cfg(&["%{GOOD}"]);
    c.patterns_dir = vec![dir.path().join("bad")];
    let msg = GrokStep::new(c).unwrap_err().to_string();
    assert!(msg.contains("bad:2"), "{msg}");

    assert!(matches!(
        GrokStep::new(cfg(&[])),
        Err(GrokError::NoPatterns)
    ));
}

#[test]
fn naming_sets_differ_in_fields() {
    let line = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "Mozilla/5.0""#;
    let (v1, _) = apply(cfg(&["%{COMBINEDAPACHELOG}"]), line);
    assert_eq!(v1.fields["source"]["address"], value!("127.0.0.1"));
    let mut c = cfg(&["%{COMBINEDAPACHELOG}"]);
    c.ecs_compatibility = EcsCompatibility::Disabled;
    let (legacy, _) = apply(c, line);
    assert_eq!(legacy.get("clientip"), Some(&value!("127.0.0.1")));
}
