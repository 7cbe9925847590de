//! Name templates (`logs-%{service}-%{+yyyy.MM.dd}`), as Logstash writes them: `%{path}` is an
//! event field (dotted or `[a][b]` form), `%{+pattern}` the event's `@timestamp` in UTC formatted
//! with a Joda-style pattern (`yyyy`, `yy`, `xxxx` week-year, `MM`, `dd`, `ww` week, `HH`, `mm`,
//! `ss`, anything else literal). A missing or unparseable `@timestamp` falls back to now.

use crate::event::Event;
use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::Value;
use std::fmt::Write;

/// A piece of a date pattern.
#[derive(Debug, Clone, PartialEq)]
enum DatePart {
    Year4,
    Year2,
    WeekYear,
    Month,
    Day,
    Week,
    Hour,
    Minute,
    Second,
    Lit(String),
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Field(String),
    Date(Vec<DatePart>),
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// Why a template could not be rendered for an event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("template `{template}`: field `{field}` is missing or not a scalar")]
pub struct TemplateError {
    /// The template text.
    pub template: String,
    /// The field that was missing.
    pub field: String,
}

fn compile_date(p: &str) -> Vec<DatePart> {
    let tokens: [(&str, DatePart); 9] = [
        ("yyyy", DatePart::Year4),
        ("xxxx", DatePart::WeekYear),
        ("yy", DatePart::Year2),
        ("MM", DatePart::Month),
        ("dd", DatePart::Day),
        ("ww", DatePart::Week),
        ("HH", DatePart::Hour),
        ("mm", DatePart::Minute),
        ("ss", DatePart::Second),
    ];
    let mut out = Vec::new();
    let mut rest = p;
    'outer: while !rest.is_empty() {
        for (tok, part) in &tokens {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push(part.clone());
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or_default();
        match out.last_mut() {
            Some(DatePart::Lit(s)) => s.push(c),
            _ => out.push(DatePart::Lit(c.to_string())),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

impl Template {
    /// Compiles `source`. Every text compiles: an unterminated `%{` is literal.
    pub fn new(source: &str) -> Self {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = source;
        while let Some(start) = rest.find("%{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            lit.push_str(&rest[..start]);
            if !lit.is_empty() {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
            }
            let inner = &after[..end];
            match inner.strip_prefix('+') {
                Some(pat) => parts.push(Part::Date(compile_date(pat))),
                None => parts.push(Part::Field(inner.to_string())),
            }
            rest = &after[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Template {
            source: source.to_string(),
            parts,
        }
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True if the template has no placeholders (renders the same for every event).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Renders the template for `event` into `out` (cleared first).
    pub fn render_into(&self, event: &Event, out: &mut String) -> Result<(), TemplateError> {
        out.clear();
        let mut ts: Option<DateTime<Utc>> = None;
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Field(path) => match event.get(path) {
                    Some(Value::String(s)) => out.push_str(s),
                    Some(v @ (Value::Number(_) | Value::Bool(_))) => {
                        let _ = write!(out, "{v}");
                    }
                    _ => {
                        return Err(TemplateError {
                            template: self.source.clone(),
                            field: path.clone(),
                        });
                    }
                },
                Part::Date(parts) => {
                    let t = *ts.get_or_insert_with(|| event_time(event));
                    format_date(&t, parts, out);
                }
            }
        }
        Ok(())
    }

    /// Renders the template for `event`.
    pub fn render(&self, event: &Event) -> Result<String, TemplateError> {
        let mut s = String::new();
        self.render_into(event, &mut s)?;
        Ok(s)
    }
}

/// The event's `@timestamp` (RFC 3339 text or epoch milliseconds) in UTC, or now.
pub fn event_time(event: &Event) -> DateTime<Utc> {
    match event.fields.get("@timestamp") {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| Utc::now()),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now),
        _ => Utc::now(),
    }
}

fn format_date(t: &DateTime<Utc>, parts: &[DatePart], out: &mut String) {
    for p in parts {
        let _ = match p {
            DatePart::Year4 => write!(out, "{:04}", t.year()),
            DatePart::Year2 => write!(out, "{:02}", t.year().rem_euclid(100)),
            DatePart::WeekYear => write!(out, "{:04}", t.iso_week().year()),
            DatePart::Month => write!(out, "{:02}", t.month()),
            DatePart::Day => write!(out, "{:02}", t.day()),
            DatePart::Week => write!(out, "{:02}", t.iso_week().week()),
            DatePart::Hour => write!(out, "{:02}", t.hour()),
            DatePart::Minute => write!(out, "{:02}", t.minute()),
            DatePart::Second => write!(out, "{:02}", t.second()),
            DatePart::Lit(s) => {
                out.push_str(s);
                Ok(())
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(v: Value) -> Event {
        Event {
            fields: v.as_object().cloned().unwrap_or_default(),
            source_id: None,
        }
    }

    #[test]
    fn field_and_utc_date() {
        let t = Template::new("logs-%{service}-%{+yyyy.MM.dd}");
        let e = ev(json!({"service": "nginx", "@timestamp": "2024-03-31T23:30:00-02:00"}));
        assert_eq!(t.render(&e).unwrap(), "logs-nginx-2024.04.01");
    }

    #[test]
    fn nested_fields_numbers_and_week_patterns() {
        let t = Template::new("%{[a][b]}-%{n}-%{+xxxx.ww}-%{+HH:mm:ss yy}");
        let e = ev(json!({"a": {"b": "x"}, "n": 7, "@timestamp": 1_704_067_200_000i64}));
        // 2024-01-01T00:00:00Z is ISO week 1 of 2024.
        assert_eq!(t.render(&e).unwrap(), "x-7-2024.01-00:00:00 24");
    }

    #[test]
    fn missing_field_is_an_error_and_bad_timestamp_falls_back_to_now() {
        let t = Template::new("logs-%{service}");
        let err = t.render(&ev(json!({}))).unwrap_err();
        assert_eq!(err.field, "service");
        let t = Template::new("%{+yyyy}");
        let now = Utc::now().year().to_string();
        assert_eq!(
            t.render(&ev(json!({"@timestamp": "garbage"}))).unwrap(),
            now
        );
        assert!(Template::new("plain-%{oops").is_static());
        assert_eq!(
            Template::new("plain-%{oops")
                .render(&ev(json!({})))
                .unwrap(),
            "plain-%{oops"
        );
    }
}
