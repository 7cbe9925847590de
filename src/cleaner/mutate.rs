//! Field steps: `rename`, `remove`, `set` (with `%{field}` templates), `convert`,
//! `lowercase`, `uppercase`, and `drop`.

use super::field::{Failure, FieldPath, render};
use super::{Step, StepOutcome};
use crate::event::Event;
use crate::value::{Number, Value};

/// `rename: { old: new, … }`: moves each present field; absent fields are skipped. Renaming
/// onto an existing field replaces it.
pub struct RenameStep(pub Vec<(FieldPath, FieldPath)>);

impl Step for RenameStep {
    fn name(&self) -> &str {
        "rename"
    }
    fn apply(&self, event: &mut Event) -> StepOutcome {
        for (from, to) in &self.0 {
            if let Some(v) = from.remove(event) {
                to.insert(event, v);
            }
        }
        StepOutcome::Continue
    }
}

/// `remove: [field, …]`: removes each field (absent ones are fine).
pub struct RemoveStep(pub Vec<FieldPath>);

impl Step for RemoveStep {
    fn name(&self) -> &str {
        "remove"
    }
    fn apply(&self, event: &mut Event) -> StepOutcome {
        for f in &self.0 {
            f.remove(event);
        }
        StepOutcome::Continue
    }
}

/// A string with `%{field}` references.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Field(FieldPath, String),
}

impl Template {
    /// Parses `%{field}` references; a `%{` without a closing `}` is kept as text.
    pub fn parse(s: &str) -> Self {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(i) = rest.find("%{") {
            let Some(end) = rest[i + 2..].find('}') else {
                break;
            };
            if i > 0 {
                parts.push(Part::Text(rest[..i].to_string()));
            }
            let name = &rest[i + 2..i + 2 + end];
            parts.push(Part::Field(
                FieldPath::new(name),
                rest[i..i + 3 + end].to_string(),
            ));
            rest = &rest[i + 3 + end..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Template { parts }
    }

    /// True if the template has at least one `%{field}`.
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Field(..)))
    }

    /// Renders against `event`: a reference to an absent field stays as written (`%{x}`),
    /// as Logstash does, so the gap is visible.
    pub fn render(&self, event: &Event) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field(f, raw) => match f.get(event) {
                    Some(v) => render(v, &mut out),
                    None => out.push_str(raw),
                },
            }
        }
        out
    }
}

/// A value of a `set` step.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// A value used as is (numbers, booleans, lists, strings without `%{`).
    Literal(Value),
    /// A string with `%{field}` references.
    Template(Template),
}

/// `set: { field: value, … }`: sets each field (replacing it), rendering templates.
pub struct SetStep(pub Vec<(FieldPath, SetValue)>);

impl Step for SetStep {
    fn name(&self) -> &str {
        "set"
    }
    fn apply(&self, event: &mut Event) -> StepOutcome {
        for (f, v) in &self.0 {
            let v = match v {
                SetValue::Literal(v) => v.clone(),
                SetValue::Template(t) => Value::from(t.render(event)),
            };
            f.insert(event, v);
        }
        StepOutcome::Continue
    }
}

/// A type `convert` turns a field into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// `integer`: from numbers (truncated), numeric strings (`"12"`, `"12.7"` → 12), booleans
    /// (1/0).
    Integer,
    /// `float`: from numbers, numeric strings, booleans.
    Float,
    /// `boolean`: from `true/false/yes/no/on/off/1/0` (any case) and numbers (0 is false).
    Boolean,
    /// `string`: anything, in its text form.
    String,
}

/// `convert: { field: integer|float|boolean|string, … }`. Lists are converted element by
/// element. A value that cannot be converted is left as it is and the event is tagged
/// `_convertfailure`; absent fields are skipped.
pub struct ConvertStep {
    /// Field → conversion.
    pub fields: Vec<(FieldPath, Conversion)>,
    /// What to do with a value that does not convert. Default: tag `_convertfailure`.
    pub failure: Failure,
}

fn convert(v: &Value, to: Conversion) -> Option<Value> {
    match (to, v) {
        (Conversion::String, Value::String(_)) => Some(v.clone()),
        (Conversion::String, _) => {
            let mut s = String::new();
            render(v, &mut s);
            Some(Value::from(s))
        }
        (Conversion::Integer, Value::Number(n)) => {
            if n.is_i64() || n.is_u64() {
                Some(v.clone())
            } else {
                n.as_f64().map(|f| Value::from(f.trunc() as i64))
            }
        }
        (Conversion::Integer, Value::String(s)) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                Some(Value::from(i))
            } else {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| Value::from(f.trunc() as i64))
            }
        }
        (Conversion::Integer, Value::Bool(b)) => Some(Value::from(i64::from(*b))),
        (Conversion::Float, Value::Number(n)) => {
            n.as_f64().and_then(Number::from_f64).map(Value::Number)
        }
        (Conversion::Float, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number),
        (Conversion::Float, Value::Bool(b)) => {
            Number::from_f64(if *b { 1.0 } else { 0.0 }).map(Value::Number)
        }
        (Conversion::Boolean, Value::Bool(_)) => Some(v.clone()),
        (Conversion::Boolean, Value::Number(n)) => n.as_f64().map(|f| Value::Bool(f != 0.0)),
        (Conversion::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" | "t" | "y" => Some(Value::Bool(true)),
            "false" | "no" | "off" | "0" | "f" | "n" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

impl Step for ConvertStep {
    fn name(&self) -> &str {
        "convert"
    }
    fn apply(&self, event: &mut Event) -> StepOutcome {
        let mut failed: Option<&FieldPath> = None;
        for (f, to) in &self.fields {
            let Some(slot) = f.get_mut(event) else {
                continue;
            };
            match slot {
                Value::Array(items) => {
                    for item in items.iter_mut() {
                        match convert(item, *to) {
                            Some(v) => *item = v,
                            None => failed = failed.or(Some(f)),
                        }
                    }
                }
                Value::Null => {}
                other => match convert(other, *to) {
                    Some(v) => *other = v,
                    None => failed = failed.or(Some(f)),
                },
            }
        }
        match failed {
            None => StepOutcome::Continue,
            Some(f) => self.failure.fail(event, || {
                format!("field `{}` could not be converted", f.as_str())
            }),
        }
    }
}

/// `lowercase: [field, …]` / `uppercase: [field, …]`: string fields (and strings in lists)
/// change case; other values are left alone.
pub struct CaseStep {
    /// The fields.
    pub fields: Vec<FieldPath>,
    /// True for `uppercase`.
    pub upper: bool,
}

impl Step for CaseStep {
    fn name(&self) -> &str {
        if self.upper { "uppercase" } else { "lowercase" }
    }
    fn apply(&self, event: &mut Event) -> StepOutcome {
        let change = |s: &mut crate::value::Str, upper: bool| {
            let needs = if upper {
                s.chars().any(char::is_lowercase)
            } else {
                s.chars().any(char::is_uppercase)
            };
            if needs {
                *s = crate::value::Str::from(if upper {
                    s.to_uppercase()
                } else {
                    s.to_lowercase()
                });
            }
        };
        for f in &self.fields {
            match f.get_mut(event) {
                Some(Value::String(s)) => change(s, self.upper),
                Some(Value::Array(items)) => {
                    for i in items {
                        if let Value::String(s) = i {
                            change(s, self.upper);
                        }
                    }
                }
                _ => {}
            }
        }
        StepOutcome::Continue
    }
}

/// `drop`: drops the event (put the condition in `if:`, or in the step's own `if`).
pub struct DropStep;

impl Step for DropStep {
    fn name(&self) -> &str {
        "drop"
    }
    fn apply(&self, _event: &mut Event) -> StepOutcome {
        StepOutcome::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaner::OnFailure;
    use crate::value;

    fn p(s: &str) -> FieldPath {
        FieldPath::new(s)
    }

    #[test]
    fn rename_remove_set() {
        let mut e = Event::from_message("m");
        e.insert("a", value!(1));
        e.insert("host", value!("web1"));
        RenameStep(vec![(p("a"), p("b.c")), (p("absent"), p("x"))]).apply(&mut e);
        assert_eq!(e.fields["b"]["c"], value!(1));
        assert!(!e.contains("a") && !e.contains("x"));
        SetStep(vec![
            (
                p("svc"),
                SetValue::Template(Template::parse("%{host}-%{b.c}/%{nope}")),
            ),
            (p("n"), SetValue::Literal(value!(3))),
        ])
        .apply(&mut e);
        assert_eq!(e.fields["svc"], value!("web1-1/%{nope}"));
        assert_eq!(e.fields["n"], value!(3));
        RemoveStep(vec![p("b.c"), p("missing")]).apply(&mut e);
        assert_eq!(e.fields["b"], value!({}));
        assert!(!Template::parse("plain %{ x").has_fields());
    }

    #[test]
    fn convert_each_type_and_failure() {
        let mut e = Event::default();
        e.insert("i", value!("42"));
        e.insert("f", value!("1.5"));
        e.insert("t", value!("Yes"));
        e.insert("s", value!(7));
        e.insert("list", value!(["1", "2"]));
        e.insert("trunc", value!(9.9));
        let step = ConvertStep {
            fields: vec![
                (p("i"), Conversion::Integer),
                (p("f"), Conversion::Float),
                (p("t"), Conversion::Boolean),
                (p("s"), Conversion::String),
                (p("list"), Conversion::Integer),
                (p("trunc"), Conversion::Integer),
                (p("absent"), Conversion::Integer),
            ],
            failure: Failure::tag("_convertfailure"),
        };
        assert_eq!(step.apply(&mut e), StepOutcome::Continue);
        assert_eq!(e.fields["i"], value!(42));
        assert_eq!(e.fields["f"], value!(1.5));
        assert_eq!(e.fields["t"], value!(true));
        assert_eq!(e.fields["s"], value!("7"));
        assert_eq!(e.fields["list"], value!([1, 2]));
        assert_eq!(e.fields["trunc"], value!(9));
        assert!(!e.has_tag("_convertfailure"));

        let mut e = Event::default();
        e.insert("i", value!("-"));
        step.apply(&mut e);
        assert_eq!(e.fields["i"], value!("-"));
        assert!(e.has_tag("_convertfailure"));
        let dl = ConvertStep {
            fields: vec![(p("i"), Conversion::Integer)],
            failure: Failure {
                on_failure: OnFailure::DeadLetter,
                tags: vec![],
            },
        };
        assert!(matches!(dl.apply(&mut e), StepOutcome::DeadLetter(r) if r.contains("`i`")));
    }

    #[test]
    fn case_and_drop() {
        let mut e = Event::default();
        e.insert("m", value!("GeT"));
        e.insert("l", value!(["A", 1]));
        CaseStep {
            fields: vec![p("m"), p("l")],
            upper: false,
        }
        .apply(&mut e);
        assert_eq!(e.fields["m"], value!("get"));
        assert_eq!(e.fields["l"], value!(["a", 1]));
        CaseStep {
            fields: vec![p("m")],
            upper: true,
        }
        .apply(&mut e);
        assert_eq!(e.fields["m"], value!("GET"));
        assert_eq!(DropStep.apply(&mut e), StepOutcome::Drop);
    }
}
