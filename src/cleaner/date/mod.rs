//! The `date` step: parse a field into `@timestamp` (RFC 3339, UTC, milliseconds).

mod fixed;

use super::error::StepError;
use super::field::{Failure, FieldPath};
use super::{Step, StepOutcome};
use crate::event::Event;
use crate::value::Value;
use chrono::format::{Item, Parsed, StrftimeItems, parse as chrono_parse};
use chrono::{DateTime, Datelike, FixedOffset, TimeZone, Utc};
use chrono_tz::Tz;
use std::sync::LazyLock;

/// Configuration of a `date` step.
#[derive(Debug, Clone)]
pub struct DateConfig {
    /// The field holding the date. Required.
    pub field: String,
    /// Formats tried in order: strftime-style (chrono's `%d/%b/%Y:%H:%M:%S %z`), or `ISO8601`,
    /// `UNIX` (seconds, fractions allowed), `UNIX_MS` (milliseconds). Required.
    pub formats: Vec<String>,
    /// Timezone (IANA name such as `Europe/Paris`) for dates that carry no offset. Default UTC.
    pub timezone: Option<String>,
    /// Where the result goes. Default `@timestamp`.
    pub target: String,
    /// What to do when no format matches. Default: tag `_dateparsefailure`.
    pub failure: Failure,
}

impl Default for DateConfig {
    fn default() -> Self {
        DateConfig {
            field: String::new(),
            formats: Vec::new(),
            timezone: None,
            target: "@timestamp".into(),
            failure: Failure::tag("_dateparsefailure"),
        }
    }
}

enum Format {
    Iso8601,
    Unix,
    UnixMs,
    /// chrono's items, and their fixed-width reading when the format has one.
    Strftime(Vec<Item<'static>>, Option<fixed::FixedFormat>),
}

/// The compiled `date` step.
pub struct DateStep {
    field: FieldPath,
    formats: Vec<Format>,
    tz: Tz,
    target: FieldPath,
    failure: Failure,
}

const FORMAT_EXPECTED: &str =
    "ISO8601, UNIX, UNIX_MS or a strftime format such as %d/%b/%Y:%H:%M:%S %z";

impl DateStep {
    /// Checks the formats and the timezone.
    pub fn new(config: DateConfig) -> Result<Self, StepError> {
        if config.field.is_empty() {
            return Err(StepError::new(
                "field",
                None,
                "no field given",
                "a field name",
            ));
        }
        if config.formats.is_empty() {
            return Err(StepError::new(
                "formats",
                None,
                "no format given",
                FORMAT_EXPECTED,
            ));
        }
        let mut formats = Vec::new();
        for (i, f) in config.formats.iter().enumerate() {
            formats.push(match f.as_str() {
                "ISO8601" => Format::Iso8601,
                "UNIX" => Format::Unix,
                "UNIX_MS" => Format::UnixMs,
                _ if !f.contains('%') => {
                    return Err(StepError::new(
                        "formats",
                        Some(i),
                        format!(
                            "`{f}` has no % directive (formats are strftime-style, e.g. \
                             %d/%b/%Y:%H:%M:%S %z, not Joda's dd/MMM/yyyy:HH:mm:ss Z)"
                        ),
                        FORMAT_EXPECTED,
                    ));
                }
                _ => {
                    let items = StrftimeItems::new(f).parse_to_owned().map_err(|_| {
                        StepError::new(
                            "formats",
                            Some(i),
                            format!("`{f}` is not a valid strftime format"),
                            FORMAT_EXPECTED,
                        )
                    })?;
                    let fast = fixed::FixedFormat::compile(&items);
                    Format::Strftime(items, fast)
                }
            });
        }
        let tz = match config.timezone.as_deref() {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                StepError::new(
                    "timezone",
                    None,
                    format!("unknown timezone `{name}`"),
                    "an IANA timezone name such as UTC or Europe/Paris",
                )
            })?,
        };
        Ok(DateStep {
            field: FieldPath::new(&config.field),
            formats,
            tz,
            target: FieldPath::new(&config.target),
            failure: config.failure,
        })
    }

    fn parse(&self, value: &Value) -> Option<DateTime<Utc>> {
        let text = match value {
            Value::String(s) => s.trim(),
            Value::Number(_) => "",
            _ => return None,
        };
        for f in &self.formats {
            let r = match f {
                Format::Unix => number(value, text).and_then(|s| from_millis(s * 1000.0)),
                Format::UnixMs => number(value, text).and_then(from_millis),
                Format::Iso8601 if !text.is_empty() => iso8601(text, &self.tz),
                Format::Strftime(items, fast) if !text.is_empty() => fast
                    .as_ref()
                    .and_then(|f| f.parse(text, &self.tz))
                    .or_else(|| with_items(text, items, &self.tz)),
                _ => None,
            };
            if r.is_some() {
                return r;
            }
        }
        None
    }
}

fn number(value: &Value, text: &str) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        _ => text.parse().ok(),
    }
}

fn from_millis(ms: f64) -> Option<DateTime<Utc>> {
    if !ms.is_finite() {
        return None;
    }
    let whole = ms.floor();
    let nanos = ((ms - whole) * 1e6).round() as u32;
    DateTime::from_timestamp_millis(whole as i64)
        .map(|d| d + chrono::Duration::nanoseconds(i64::from(nanos.min(999_999))))
}

/// Parses with pre-compiled items. A date without an offset is in `tz`; a date without a year
/// (syslog's `%b %d %H:%M:%S`) gets the current year, or the previous one if that would put
/// it more than a day in the future; a date without a time is at midnight.
fn with_items(text: &str, items: &[Item<'static>], tz: &Tz) -> Option<DateTime<Utc>> {
    match parse_with_year(text, items, tz, None)? {
        (dt, false) => Some(dt),
        (dt, true) => {
            // No year in the text: this year, unless that is more than a day ahead.
            let now = Utc::now();
            if dt > now + chrono::Duration::days(1) {
                parse_with_year(text, items, tz, Some(now.year() - 1)).map(|(d, _)| d)
            } else {
                Some(dt)
            }
        }
    }
}

/// Parses `text`; returns the date and whether the year had to be supplied (`year`, or the
/// current year when `None`).
fn parse_with_year(
    text: &str,
    items: &[Item<'static>],
    tz: &Tz,
    year: Option<i32>,
) -> Option<(DateTime<Utc>, bool)> {
    let mut p = Parsed::new();
    chrono_parse(&mut p, text, items.iter()).ok()?;
    if let Some(ts) = p.timestamp() {
        return DateTime::from_timestamp(ts, p.nanosecond().unwrap_or(0)).map(|d| (d, false));
    }
    let guessed = p.year().is_none() && p.isoyear().is_none();
    if guessed {
        let y = year.unwrap_or_else(|| Utc::now().year());
        p.set_year(i64::from(y)).ok()?;
    }
    if p.hour_mod_12().is_none() {
        p.set_hour(0).ok()?;
    }
    if p.minute().is_none() {
        p.set_minute(0).ok()?;
    }
    resolve(&p, tz).map(|d| (d, guessed))
}

fn resolve(p: &Parsed, tz: &Tz) -> Option<DateTime<Utc>> {
    if p.offset().is_some() {
        return p.to_datetime().ok().map(|d| d.with_timezone(&Utc));
    }
    let naive = p.to_naive_datetime_with_offset(0).ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

static ISO_WITH_OFFSET: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| {
    ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"]
        .iter()
        .filter_map(|f| StrftimeItems::new(f).parse_to_owned().ok())
        .collect()
});

static ISO_LOCAL: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| {
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d",
    ]
    .iter()
    .filter_map(|f| StrftimeItems::new(f).parse_to_owned().ok())
    .collect()
});

/// ISO 8601 as logs write it: `2024-03-01T12:00:00Z`, `…T12:00:00.123+01:00`,
/// `2024-03-01 12:00:00,123` (comma fractions, space separator, no offset → `tz`).
fn iso8601(text: &str, tz: &Tz) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::<FixedOffset>::parse_from_rfc3339(text) {
        return Some(d.with_timezone(&Utc));
    }
    let owned;
    let text = if text.contains(',') {
        owned = text.replacen(',', ".", 1);
        owned.as_str()
    } else {
        text
    };
    if let Some(t) = text.strip_suffix('Z') {
        return ISO_LOCAL
            .iter()
            .find_map(|items| with_items(t, items, &Tz::UTC));
    }
    ISO_WITH_OFFSET
        .iter()
        .chain(ISO_LOCAL.iter())
        .find_map(|items| with_items(text, items, tz))
}

impl Step for DateStep {
    fn name(&self) -> &str {
        "date"
    }

    fn apply(&self, event: &mut Event) -> StepOutcome {
        let Some(value) = self.field.get(event) else {
            return StepOutcome::Continue;
        };
        match self.parse(value) {
            Some(dt) => {
                let s = fixed::rfc3339_millis(&dt);
                self.target.insert(event, Value::from(s));
                StepOutcome::Continue
            }
            None => {
                let shown = value.to_string();
                self.failure.fail(event, || {
                    format!(
                        "field `{}` ({shown}) matches none of the date formats",
                        self.field.as_str()
                    )
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;

    fn run(value: Value, formats: &[&str], tz: Option<&str>) -> Event {
        let s = DateStep::new(DateConfig {
            field: "ts".into(),
            formats: formats.iter().map(|s| s.to_string()).collect(),
            timezone: tz.map(str::to_string),
            ..Default::default()
        })
        .unwrap();
        let mut e = Event::default();
        e.insert("ts", value);
        s.apply(&mut e);
        e
    }

    fn ts(e: &Event) -> &str {
        e.get_str("@timestamp").unwrap_or("<none>")
    }

    #[test]
    fn strftime_with_offset() {
        let e = run(
            value!("10/Oct/2000:13:55:36 -0700"),
            &["%d/%b/%Y:%H:%M:%S %z"],
            None,
        );
        assert_eq!(ts(&e), "2000-10-10T20:55:36.000Z");
    }

    #[test]
    fn strftime_without_offset_uses_timezone() {
        let e = run(
            value!("2024-07-01 12:00:00.250"),
            &["%Y-%m-%d %H:%M:%S%.f"],
            Some("Europe/Paris"),
        );
        assert_eq!(ts(&e), "2024-07-01T10:00:00.250Z");
    }

    #[test]
    fn iso8601_variants() {
        for (input, want) in [
            ("2024-03-01T12:00:00Z", "2024-03-01T12:00:00.000Z"),
            ("2024-03-01T12:00:00.123+01:00", "2024-03-01T11:00:00.123Z"),
            ("2024-03-01 12:00:00,5", "2024-03-01T12:00:00.500Z"),
            ("2024-03-01T12:00:00+0100", "2024-03-01T11:00:00.000Z"),
            ("2024-03-01", "2024-03-01T00:00:00.000Z"),
        ] {
            assert_eq!(ts(&run(value!(input), &["ISO8601"], None)), want, "{input}");
        }
    }

    #[test]
    fn unix_and_unix_ms() {
        assert_eq!(
            ts(&run(value!(1700000000), &["UNIX"], None)),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            ts(&run(value!("1700000000.5"), &["UNIX"], None)),
            "2023-11-14T22:13:20.500Z"
        );
        assert_eq!(
            ts(&run(value!("1700000000123"), &["UNIX_MS"], None)),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn formats_are_tried_in_order_and_missing_year_is_guessed() {
        let e = run(
            value!("Mar  1 12:00:00"),
            &["ISO8601", "%b %e %H:%M:%S"],
            None,
        );
        let year = Utc::now().year();
        let got = ts(&e);
        assert!(
            got.ends_with("-03-01T12:00:00.000Z")
                && (got.starts_with(&year.to_string()) || got.starts_with(&(year - 1).to_string())),
            "{got}"
        );
    }

    #[test]
    fn failure_tags_and_leaves_the_event() {
        let e = run(value!("yesterday"), &["ISO8601", "UNIX"], None);
        assert!(e.has_tag("_dateparsefailure"));
        assert!(!e.contains("@timestamp"));
        let e = run(value!({"a": 1}), &["ISO8601"], None);
        assert!(e.has_tag("_dateparsefailure"));
    }

    #[test]
    fn bad_configs() {
        let new = |formats: &[&str], tz: Option<&str>| {
            DateStep::new(DateConfig {
                field: "ts".into(),
                formats: formats.iter().map(|s| s.to_string()).collect(),
                timezone: tz.map(str::to_string),
                ..Default::default()
            })
        };
        let e = new(&["ISO8601", "dd/MMM/yyyy"], None).err().unwrap();
        assert_eq!((e.key, e.index), ("formats", Some(1)));
        assert!(e.message.contains("Joda"));
        assert_eq!(new(&["%Q"], None).err().unwrap().key, "formats");
        assert_eq!(
            new(&["ISO8601"], Some("Mars/Olympus")).err().unwrap().key,
            "timezone"
        );
        assert_eq!(new(&[], None).err().unwrap().key, "formats");
    }
}
