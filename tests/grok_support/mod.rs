//! Helpers shared by the grok sample tests.
// Each test crate that includes this module uses a part of it.
#![allow(dead_code)]

use sluice::cleaner::Step;
use sluice::cleaner::grok::{EcsCompatibility, GrokConfig, GrokStep};
use sluice::event::Event;
use sluice::value::Value;

pub const V1: EcsCompatibility = EcsCompatibility::V1;
pub const LEGACY: EcsCompatibility = EcsCompatibility::Disabled;

/// Runs `pattern` over `line` (overwriting `message`) and checks every `expected` path.
pub fn check(ecs: EcsCompatibility, pattern: &str, line: &str, expected: impl Into<Value>) {
    let step = GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: ecs,
        overwrite: vec!["message".to_string()],
        ..GrokConfig::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut e = Event::from_message(line);
    step.apply(&mut e);
    assert!(
        !e.has_tag("_grokparsefailure"),
        "{ecs:?} {pattern} did not match {line:?}"
    );
    let Value::Object(expected) = expected.into() else {
        panic!("expected an object")
    };
    for (path, want) in expected {
        assert_eq!(
            e.get(path.as_str()),
            Some(&want),
            "{ecs:?} {pattern}: field {path} in {}",
            Value::Object(e.fields.clone())
        );
    }
}

pub fn no_match(ecs: EcsCompatibility, pattern: &str, line: &str) {
    let step = GrokStep::new(GrokConfig {
        patterns: vec![pattern.to_string()],
        ecs_compatibility: ecs,
        ..GrokConfig::default()
    })
    .unwrap();
    let mut e = Event::from_message(line);
    step.apply(&mut e);
    assert!(e.has_tag("_grokparsefailure"), "{pattern} matched {line:?}");
}
