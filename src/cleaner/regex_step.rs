//! The `regex` step: named groups of the first matching pattern become fields.

use super::error::StepError;
use super::field::{Failure, FieldPath};
use super::{Step, StepOutcome};
use crate::event::Event;
use crate::value::Value;
use regex::Regex;

/// Configuration of a `regex` step.
#[derive(Debug, Clone)]
pub struct RegexConfig {
    /// The field to match. Default `message`.
    pub field: String,
    /// Patterns tried in order; the first that matches wins. Named groups (`(?P<name>…)` or
    /// `(?<name>…)`; dotted names like `http.method` make nested fields) become fields.
    pub patterns: Vec<String>,
    /// Also write groups that matched the empty string. Default false.
    pub keep_empty_captures: bool,
    /// What to do when no pattern matches (the field is present but does not match, or is
    /// not a string). Default: tag `_regexparsefailure`.
    pub failure: Failure,
}

impl Default for RegexConfig {
    fn default() -> Self {
        RegexConfig {
            field: "message".into(),
            patterns: Vec::new(),
            keep_empty_captures: false,
            failure: Failure::tag("_regexparsefailure"),
        }
    }
}

struct Compiled {
    regex: Regex,
    /// (group index, target field) for every named group.
    groups: Vec<(usize, FieldPath)>,
}

/// The compiled `regex` step.
pub struct RegexStep {
    field: FieldPath,
    patterns: Vec<Compiled>,
    keep_empty: bool,
    failure: Failure,
}

impl RegexStep {
    /// Compiles the patterns.
    pub fn new(config: RegexConfig) -> Result<Self, StepError> {
        if config.patterns.is_empty() {
            return Err(StepError::new(
                "patterns",
                None,
                "no pattern given",
                "at least one regular expression",
            ));
        }
        let mut patterns = Vec::with_capacity(config.patterns.len());
        for (i, p) in config.patterns.iter().enumerate() {
            let regex = Regex::new(p).map_err(|e| {
                StepError::new(
                    "patterns",
                    Some(i),
                    format!(
                        "bad regular expression: {}",
                        super::error::regex_message(&e)
                    ),
                    "a regular expression",
                )
            })?;
            let groups: Vec<(usize, FieldPath)> = regex
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (i, FieldPath::new(n))))
                .collect();
            if groups.is_empty() {
                return Err(StepError::new(
                    "patterns",
                    Some(i),
                    format!("`{p}` has no named group, so it would extract nothing"),
                    "a regular expression with named groups like (?P<status>\\d+)",
                ));
            }
            patterns.push(Compiled { regex, groups });
        }
        Ok(RegexStep {
            field: FieldPath::new(&config.field),
            patterns,
            keep_empty: config.keep_empty_captures,
            failure: config.failure,
        })
    }
}

impl Step for RegexStep {
    fn name(&self) -> &str {
        "regex"
    }

    fn apply(&self, event: &mut Event) -> StepOutcome {
        let Some(value) = self.field.get(event) else {
            return StepOutcome::Continue;
        };
        let Some(text) = value.as_str() else {
            return self.failure.fail(event, || {
                format!("field `{}` is not a string", self.field.as_str())
            });
        };
        let mut found: Vec<(&FieldPath, String)> = Vec::new();
        let mut matched = false;
        for p in &self.patterns {
            if let Some(caps) = p.regex.captures(text) {
                for (i, target) in &p.groups {
                    if let Some(m) = caps.get(*i)
                        && (self.keep_empty || !m.is_empty())
                    {
                        found.push((target, m.as_str().to_string()));
                    }
                }
                matched = true;
                break;
            }
        }
        if !matched {
            return self.failure.fail(event, || {
                format!("no pattern matched field `{}`", self.field.as_str())
            });
        }
        for (target, v) in found {
            target.insert(event, Value::from(v));
        }
        StepOutcome::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaner::OnFailure;
    use crate::value;

    fn step(patterns: &[&str]) -> RegexStep {
        RegexStep::new(RegexConfig {
            patterns: patterns.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn first_matching_pattern_wins_and_groups_become_nested_fields() {
        let s = step(&[r"^(?P<http.method>[A-Z]+) (?P<url>\S+)$", r"^(?P<word>\w+)"]);
        let mut e = Event::from_message("GET /x");
        assert_eq!(s.apply(&mut e), StepOutcome::Continue);
        assert_eq!(e.fields["http"]["method"], value!("GET"));
        assert_eq!(e.fields["url"], value!("/x"));
        assert!(!e.contains("word"));
        let mut e = Event::from_message("hello there");
        s.apply(&mut e);
        assert_eq!(e.fields["word"], value!("hello"));
    }

    #[test]
    fn empty_captures_are_skipped_unless_asked() {
        let mut e = Event::from_message("a=");
        step(&[r"a=(?P<v>\d*)"]).apply(&mut e);
        assert!(!e.contains("v"));
        let s = RegexStep::new(RegexConfig {
            patterns: vec![r"a=(?P<v>\d*)".into()],
            keep_empty_captures: true,
            ..Default::default()
        })
        .unwrap();
        s.apply(&mut e);
        assert_eq!(e.fields["v"], value!(""));
    }

    #[test]
    fn failure_paths() {
        let mut e = Event::from_message("nothing here");
        step(&[r"^(?P<n>\d+)$"]).apply(&mut e);
        assert!(e.has_tag("_regexparsefailure"));
        let mut e = Event::from_message("x");
        let s = RegexStep::new(RegexConfig {
            patterns: vec![r"^(?P<n>\d+)$".into()],
            failure: Failure {
                on_failure: OnFailure::DeadLetter,
                tags: vec![],
            },
            ..Default::default()
        })
        .unwrap();
        assert!(matches!(s.apply(&mut e), StepOutcome::DeadLetter(r) if r.contains("message")));
        // Missing field: nothing to do, no failure.
        let mut e = Event::default();
        assert_eq!(s.apply(&mut e), StepOutcome::Continue);
    }

    #[test]
    fn bad_configs() {
        let bad = |p: &str| {
            RegexStep::new(RegexConfig {
                patterns: vec!["(?P<ok>a)".into(), p.into()],
                ..Default::default()
            })
            .err()
            .unwrap()
        };
        let e = bad("(unclosed");
        assert_eq!((e.key, e.index), ("patterns", Some(1)));
        assert!(bad("no groups").message.contains("no named group"));
        assert!(RegexStep::new(RegexConfig::default()).is_err());
    }
}
