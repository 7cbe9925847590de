//! The grok step: match, then write captures into the event as Logstash does.

use crate::value::{Map, Number, Value};
use std::cell::RefCell;
use thread_local::ThreadLocal;

use super::engine::{Engine, EngineKind, Scratch};
use super::expand::{CaptureKind, expand};
use super::{GrokConfig, GrokError, definitions};
use crate::cleaner::field::FieldPath;
use crate::cleaner::{OnFailure, Step, StepOutcome};
use crate::event::{Event, split_path};

/// A capture, ready to write: the path's components and how to convert the value.
#[derive(Debug)]
struct Target {
    path: FieldPath,
    kind: CaptureKind,
    overwrite: bool,
}

/// One compiled grok expression.
#[derive(Debug)]
struct Compiled {
    source: String,
    engine: Engine,
    targets: Vec<Target>,
    /// Reused match buffers, one per thread (no lock, no cache line shared between the
    /// workers' cleaning threads).
    pool: ThreadLocal<RefCell<Scratch>>,
}

/// The grok step (implements [`Step`]). Build it with [`GrokStep::new`].
#[derive(Debug)]
pub struct GrokStep {
    /// `field`'s path components.
    field_path: FieldPath,
    /// Reused buffer for the values of a match, one per thread.
    values: ThreadLocal<RefCell<Vec<(usize, usize, Value)>>>,
    patterns: Vec<Compiled>,
    keep_empty: bool,
    on_failure: OnFailure,
    tags: Vec<String>,
    reason: String,
}

impl GrokStep {
    /// Expands and compiles every pattern of `config` once.
    pub fn new(config: GrokConfig) -> Result<GrokStep, GrokError> {
        if config.patterns.is_empty() {
            return Err(GrokError::NoPatterns);
        }
        let defs = definitions(&config)?;
        let mut patterns = Vec::with_capacity(config.patterns.len());
        for source in &config.patterns {
            let x = expand(source, &defs)?;
            let engine = Engine::compile(source, &x)?;
            let targets = x
                .captures
                .iter()
                .map(|c| Target {
                    path: FieldPath::new(&c.field),
                    kind: c.kind,
                    overwrite: config
                        .overwrite
                        .iter()
                        .any(|o| o == &c.field || split_path(o) == split_path(&c.field)),
                })
                .collect();
            patterns.push(Compiled {
                source: source.clone(),
                engine,
                targets,
                pool: ThreadLocal::new(),
            });
        }
        let reason = format!(
            "grok: no pattern matched field `{}` (patterns: {})",
            config.field,
            config.patterns.join(" | ")
        );
        Ok(GrokStep {
            field_path: FieldPath::new(&config.field),
            values: ThreadLocal::new(),
            patterns,
            keep_empty: config.keep_empty_captures,
            on_failure: config.on_failure,
            tags: config.tag_on_failure,
            reason,
        })
    }

    /// The engine chosen for each pattern, in order (see `docs/grok.md`).
    pub fn engines(&self) -> Vec<(String, EngineKind)> {
        self.patterns
            .iter()
            .map(|p| (p.source.clone(), p.engine.kind()))
            .collect()
    }

    /// Matches (over all patterns) that the verified engine had to redo with the backtracking
    /// engine because a lookaround or atomic-group check failed.
    pub fn fallbacks(&self) -> u64 {
        self.patterns.iter().map(|p| p.engine.fallbacks()).sum()
    }

    /// Tries the patterns on `hay`; on a match returns the values to write.
    fn match_str(&self, hay: &str, out: &mut Vec<(usize, usize, Value)>) -> bool {
        for (pi, p) in self.patterns.iter().enumerate() {
            let mut scratch = p
                .pool
                .get_or(|| RefCell::new(p.engine.scratch()))
                .borrow_mut();
            let matched = p.engine.find(hay, &mut scratch);
            if matched {
                for (ti, (t, span)) in p.targets.iter().zip(&scratch.spans).enumerate() {
                    let value = match span {
                        Some((s, e)) if e > s || self.keep_empty => convert(&hay[*s..*e], t.kind),
                        None if self.keep_empty => Value::Null,
                        _ => continue,
                    };
                    out.push((pi, ti, value));
                }
            }
            drop(scratch);
            if matched {
                return true;
            }
        }
        false
    }

    fn fail(&self, event: &mut Event) -> StepOutcome {
        match self.on_failure {
            OnFailure::Tag => {
                for t in &self.tags {
                    event.add_tag(t);
                }
                StepOutcome::Continue
            }
            OnFailure::Drop => StepOutcome::Drop,
            OnFailure::DeadLetter => StepOutcome::DeadLetter(self.reason.clone()),
        }
    }
}

impl Step for GrokStep {
    fn name(&self) -> &str {
        "grok"
    }

    fn apply(&self, event: &mut Event) -> StepOutcome {
        // Taken out of the cell (an empty `Vec` is left): no borrow is held while the event
        // changes.
        let cell = self.values.get_or_default();
        let mut values = cell.take();
        let matched = match self.field_path.get(event) {
            Some(Value::String(s)) => self.match_str(s, &mut values),
            // An array field matches if one of its elements does (as in Logstash).
            Some(Value::Array(items)) => items.iter().any(|v| match v {
                Value::String(s) => self.match_str(s, &mut values),
                Value::Number(_) | Value::Bool(_) => self.match_str(&v.to_string(), &mut values),
                _ => false,
            }),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                let s = v.to_string();
                self.match_str(&s, &mut values)
            }
            _ => false,
        };
        if !matched {
            values.clear();
            cell.replace(values);
            return self.fail(event);
        }
        for (pi, ti, value) in values.drain(..) {
            let t = &self.patterns[pi].targets[ti];
            write(&mut event.fields, &t.path, value, t.overwrite);
        }
        cell.replace(values);
        StepOutcome::Continue
    }
}

/// Writes `value` at `path`: replaces when `overwrite` or absent/null; otherwise appends to an
/// array or turns a string into `[old, new]`; leaves other existing values alone (Logstash).
fn write(fields: &mut Map, path: &FieldPath, value: Value, overwrite: bool) {
    let Some((map, last)) = path.parent_mut(fields) else {
        return;
    };
    // One search of the map (a new field is the usual case).
    match map.insert_new_key(last, value) {
        Ok(()) => {}
        Err((slot, value)) => {
            if overwrite || slot.is_null() {
                *slot = value;
            } else {
                match slot {
                    Value::Array(items) => items.push(value),
                    Value::String(_) => {
                        let old = slot.take();
                        *slot = Value::Array(vec![old, value]);
                    }
                    _ => {
                        tracing::debug!(field = %path.as_str(), "grok: not adding to an existing non-string value")
                    }
                }
            }
        }
    }
}

/// Converts a captured string (Ruby's `to_i` / `to_f`).
fn convert(s: &str, kind: CaptureKind) -> Value {
    match kind {
        CaptureKind::String => Value::from(s),
        CaptureKind::Int => Value::Number(Number::from(to_i(s))),
        CaptureKind::Float => Number::from_f64(to_f(s)).map_or(Value::Null, Value::Number),
    }
}

/// Ruby's `String#to_i`: optional leading whitespace and sign, then digits (underscores
/// between digits allowed); `0` if none; saturates instead of growing a bignum.
pub(crate) fn to_i(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    let mut prev_digit = false;
    for c in digits.bytes() {
        match c {
            b'0'..=b'9' => {
                let d = i64::from(c - b'0');
                n = if neg {
                    n.saturating_mul(10).saturating_sub(d)
                } else {
                    n.saturating_mul(10).saturating_add(d)
                };
                prev_digit = true;
            }
            b'_' if prev_digit => prev_digit = false,
            _ => break,
        }
    }
    n
}

/// Ruby's `String#to_f`: the longest leading decimal number, `0.0` if none.
pub(crate) fn to_f(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    let digits = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits(i);
    let mut end = int_end;
    if int_end > i && b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end = digits(end + 1);
    }
    if end > i && matches!(b.get(end), Some(b'e' | b'E')) {
        let mut j = end + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let k = digits(j);
        if k > j {
            end = k;
        }
    }
    if int_end == i {
        return 0.0;
    }
    t[..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_conversions() {
        assert_eq!(to_i("42"), 42);
        assert_eq!(to_i(" -7x"), -7);
        assert_eq!(to_i("1_000"), 1000);
        assert_eq!(to_i("1.9"), 1);
        assert_eq!(to_i("abc"), 0);
        assert_eq!(to_i("99999999999999999999999"), i64::MAX);
        assert_eq!(to_f("1.5"), 1.5);
        assert_eq!(to_f("-2.5e3ms"), -2500.0);
        assert_eq!(to_f("3."), 3.0);
        assert_eq!(to_f("x"), 0.0);
    }

    #[test]
    fn write_follows_logstash() {
        let mut m = Map::new();
        let p = FieldPath::new("a.b");
        write(&mut m, &p, Value::from("1"), false);
        write(&mut m, &p, Value::from("2"), false);
        write(&mut m, &p, Value::from("3"), false);
        assert_eq!(m["a"]["b"], crate::value!(["1", "2", "3"]));
        write(&mut m, &p, Value::from("4"), true);
        assert_eq!(m["a"]["b"], crate::value!("4"));
        let n = FieldPath::new("n");
        write(&mut m, &n, Value::from(5), false);
        write(&mut m, &n, Value::from("6"), false);
        assert_eq!(m["n"], crate::value!(5));
    }
}
