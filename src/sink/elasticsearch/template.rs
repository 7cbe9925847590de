//! Name templates (`logs-%{service}-%{+yyyy.MM.dd}`), as Logstash writes them: `%{path}` is an
//! event field (dotted or `[a][b]` form), `%{+pattern}` the event's `@timestamp` in UTC formatted
//! with a Joda-style pattern (`yyyy`, `yy`, `xxxx` week-year, `MM`, `dd`, `ww` week, `HH`, `mm`,
//! `ss`, anything else literal). A missing or unparseable `@timestamp` falls back to now.

use crate::event::Event;
use crate::value::Value;
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
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
        Some(Value::String(s)) => utc_rfc3339(s)
            .or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            })
            .unwrap_or_else(Utc::now),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_else(Utc::now),
        _ => Utc::now(),
    }
}

/// `@timestamp` as sluice writes it (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`, UTC), read without
/// chrono's general RFC 3339 parser; `None` for any other form (offsets, lowercase, leap
/// seconds…), which chrono then reads. One parse per event for a daily index name.
fn utc_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[b.len() - 1] != b'Z'
        || [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')]
            .iter()
            .any(|&(i, c)| b[i] != c)
    {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match (b[19], b.len() - 21) {
        (b'Z', _) if b.len() == 20 => 0,
        (b'.', digits @ 1..=9) => num(20, 20 + digits)? * 10u32.pow(9 - digits as u32),
        _ => return None,
    };
    let second = num(17, 19)?;
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0, 4)? as i32, num(5, 7)?, num(8, 10)?)?;
    let time = NaiveTime::from_hms_nano_opt(num(11, 13)?, num(14, 16)?, second, nanos)?;
    Some(date.and_time(time).and_utc())
}

/// Appends `n` with at least `width` digits (zero-padded), as `{:0width$}` does.
fn push_padded(out: &mut String, n: i32, width: usize) {
    if !(0..10_000).contains(&n) {
        let _ = write!(out, "{n:0width$}");
        return;
    }
    let len = match n {
        1000.. => 4,
        100.. => 3,
        10.. => 2,
        _ => 1,
    };
    for _ in len..width {
        out.push('0');
    }
    let mut rest = n;
    let mut digits = [b'0'; 4];
    for d in digits[..len].iter_mut().rev() {
        *d = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend(digits[..len].iter().map(|&d| char::from(d)));
}

fn format_date(t: &DateTime<Utc>, parts: &[DatePart], out: &mut String) {
    for p in parts {
        match p {
            DatePart::Year4 => push_padded(out, t.year(), 4),
            DatePart::Year2 => push_padded(out, t.year().rem_euclid(100), 2),
            DatePart::WeekYear => push_padded(out, t.iso_week().year(), 4),
            DatePart::Month => push_padded(out, t.month() as i32, 2),
            DatePart::Day => push_padded(out, t.day() as i32, 2),
            DatePart::Week => push_padded(out, t.iso_week().week() as i32, 2),
            DatePart::Hour => push_padded(out, t.hour() as i32, 2),
            DatePart::Minute => push_padded(out, t.minute() as i32, 2),
            DatePart::Second => push_padded(out, t.second() as i32, 2),
            DatePart::Lit(s) => out.push_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    fn ev(v: Value) -> Event {
        Event {
            fields: v.as_object().cloned().unwrap_or_default(),
            source_id: None,
        }
    }

    #[test]
    fn padded_numbers_are_written_as_format_writes_them() {
        for n in [
            0, 1, 9, 10, 42, 99, 100, 123, 999, 1000, 2024, 9999, 10_000, 123_456, -1, -42,
        ] {
            for width in [2, 4] {
                let mut got = String::new();
                push_padded(&mut got, n, width);
                assert_eq!(got, format!("{n:0width$}"), "{n} width {width}");
            }
        }
    }

    proptest::proptest! {
        /// What sluice writes as `@timestamp` reads back as chrono reads it, at every precision;
        /// anything else is left to chrono.
        #[test]
        fn timestamps_read_as_chrono_reads_them(
            secs in -62_135_596_800i64..253_402_300_799,
            nanos in 0u32..1_000_000_000,
            precision in 0usize..4,
        ) {
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            let form = [
                chrono::SecondsFormat::Secs,
                chrono::SecondsFormat::Millis,
                chrono::SecondsFormat::Micros,
                chrono::SecondsFormat::Nanos,
            ][precision];
            let text = t.to_rfc3339_opts(form, true);
            let want = DateTime::parse_from_rfc3339(&text).unwrap().with_timezone(&Utc);
            proptest::prop_assert_eq!(utc_rfc3339(&text), Some(want), "{}", text);
            let offset = t.to_rfc3339_opts(form, false);
            proptest::prop_assert_eq!(utc_rfc3339(&offset), None, "{}", offset);
        }
    }

    #[test]
    fn only_the_plain_utc_form_is_read_without_chrono() {
        for text in [
            "2024-03-31T23:30:00z",
            "2024-03-31t23:30:00Z",
            "2024-03-31 23:30:00Z",
            "2024-03-31T23:30:60Z",
            "2024-02-30T23:30:00Z",
            "2024-03-31T23:30:00.Z",
            "2024-03-31T23:30:00.1234567890Z",
            "2024-03-31T23:30Z",
            "+2024-03-31T23:30:00Z",
        ] {
            assert_eq!(utc_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn field_and_utc_date() {
        let t = Template::new("logs-%{service}-%{+yyyy.MM.dd}");
        let e = ev(value!({"service": "nginx", "@timestamp": "2024-03-31T23:30:00-02:00"}));
        assert_eq!(t.render(&e).unwrap(), "logs-nginx-2024.04.01");
    }

    #[test]
    fn nested_fields_numbers_and_week_patterns() {
        let t = Template::new("%{[a][b]}-%{n}-%{+xxxx.ww}-%{+HH:mm:ss yy}");
        let e = ev(value!({"a": {"b": "x"}, "n": 7, "@timestamp": 1_704_067_200_000i64}));
        // 2024-01-01T00:00:00Z is ISO week 1 of 2024.
        assert_eq!(t.render(&e).unwrap(), "x-7-2024.01-00:00:00 24");
    }

    #[test]
    fn missing_field_is_an_error_and_bad_timestamp_falls_back_to_now() {
        let t = Template::new("logs-%{service}");
        let err = t.render(&ev(value!({}))).unwrap_err();
        assert_eq!(err.field, "service");
        let t = Template::new("%{+yyyy}");
        let now = Utc::now().year().to_string();
        assert_eq!(
            t.render(&ev(value!({"@timestamp": "garbage"}))).unwrap(),
            now
        );
        assert!(Template::new("plain-%{oops").is_static());
        assert_eq!(
            Template::new("plain-%{oops")
                .render(&ev(value!({})))
                .unwrap(),
            "plain-%{oops"
        );
    }
}
