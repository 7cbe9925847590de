//! Dates in fixed-width formats, parsed and written without chrono's general machinery.
//!
//! Most log formats (`%d/%b/%Y:%H:%M:%S %z`, `%Y-%m-%d %H:%M:%S`, …) are fixed-width: every
//! number has its full width of digits. For those the `date` step first tries
//! [`FixedFormat::parse`], which reads such a text in one pass. It accepts a subset of what
//! chrono's parser accepts and, on that subset, gives the same instant; anything else (a
//! shorter number, other spacing, a lower-case month, a leap second, a date that does not
//! exist, a local time in a zone other than UTC) returns `None` and goes to chrono, which
//! decides. A differential test checks the two agree.

use chrono::format::{Fixed, Item, Numeric};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

const YEAR: usize = 0;
const MONTH: usize = 1;
const DAY: usize = 2;
const HOUR: usize = 3;
const MINUTE: usize = 4;
const SECOND: usize = 5;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// One piece of a fixed-width format.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// These exact bytes (a literal, or the format's own whitespace).
    Lit(Box<[u8]>),
    /// A number of exactly `width` digits for field `field` (`YEAR` … `SECOND`).
    Num { field: usize, width: usize },
    /// `Jan` … `Dec`.
    Month3,
    /// `+hhmm` / `-hhmm`.
    Offset,
}

/// A strftime format whose every item has a fixed width, with year, month, day, hour, minute
/// and second each given once.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct FixedFormat {
    pieces: Vec<Piece>,
    offset: bool,
}

impl FixedFormat {
    /// The fixed-width reading of a format's items, if it has one.
    pub(super) fn compile(items: &[Item<'_>]) -> Option<FixedFormat> {
        let mut seen = [false; 6];
        let mut mark = |field: usize| !std::mem::replace(&mut seen[field], true);
        let mut offset = false;
        let mut pieces = Vec::with_capacity(items.len());
        for item in items {
            let piece = match item {
                Item::Literal(s) | Item::Space(s) => Piece::Lit(s.as_bytes().into()),
                Item::OwnedLiteral(s) | Item::OwnedSpace(s) => Piece::Lit(s.as_bytes().into()),
                Item::Numeric(n, _) => {
                    let (field, width) = match n {
                        Numeric::Year => (YEAR, 4),
                        Numeric::Month => (MONTH, 2),
                        Numeric::Day => (DAY, 2),
                        Numeric::Hour => (HOUR, 2),
                        Numeric::Minute => (MINUTE, 2),
                        Numeric::Second => (SECOND, 2),
                        _ => return None,
                    };
                    if !mark(field) {
                        return None;
                    }
                    Piece::Num { field, width }
                }
                Item::Fixed(Fixed::ShortMonthName) if mark(MONTH) => Piece::Month3,
                Item::Fixed(Fixed::TimezoneOffset) if !offset => {
                    offset = true;
                    Piece::Offset
                }
                _ => return None,
            };
            pieces.push(piece);
        }
        seen.iter()
            .all(|s| *s)
            .then_some(FixedFormat { pieces, offset })
    }

    /// The instant `text` denotes, if it has exactly this format's shape and is a valid date;
    /// `None` sends it to chrono. A date without an offset is read as UTC, so formats without
    /// one only take this path when the step's timezone is UTC.
    pub(super) fn parse(&self, text: &str, tz: &Tz) -> Option<DateTime<Utc>> {
        if !self.offset && *tz != Tz::UTC {
            return None;
        }
        let b = text.as_bytes();
        let mut i = 0;
        let mut v = [0u32; 6];
        let mut offset = 0i32;
        for piece in &self.pieces {
            match piece {
                Piece::Lit(lit) => {
                    if !b.get(i..)?.starts_with(lit) {
                        return None;
                    }
                    i += lit.len();
                }
                Piece::Num { field, width } => {
                    v[*field] = digits(b.get(i..i + width)?)?;
                    i += width;
                }
                Piece::Month3 => {
                    let name = b.get(i..i + 3)?;
                    v[MONTH] = MONTHS.iter().position(|m| &m[..] == name)? as u32 + 1;
                    i += 3;
                }
                Piece::Offset => {
                    let o = b.get(i..i + 5)?;
                    let sign = match o[0] {
                        b'+' => 1,
                        b'-' => -1,
                        _ => return None,
                    };
                    let (hh, mm) = (digits(&o[1..3])?, digits(&o[3..5])?);
                    if hh > 23 || mm > 59 {
                        return None;
                    }
                    offset = sign * (hh * 3600 + mm * 60) as i32;
                    i += 5;
                }
            }
        }
        if i != b.len() || v[SECOND] > 59 {
            return None;
        }
        let local = NaiveDate::from_ymd_opt(v[YEAR] as i32, v[MONTH], v[DAY])?
            .and_hms_opt(v[HOUR], v[MINUTE], v[SECOND])?;
        let utc = local.checked_sub_offset(FixedOffset::east_opt(offset)?)?;
        Some(Utc.from_utc_datetime(&utc))
    }
}

/// The value of a run of ASCII digits (`None` if any byte is not one).
fn digits(d: &[u8]) -> Option<u32> {
    d.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `dt` as RFC 3339 in UTC with milliseconds (`2024-03-01T12:00:00.123Z`): what chrono's
/// `to_rfc3339_opts(SecondsFormat::Millis, true)` writes, without its formatter for the
/// years 0–9999 (others go to chrono).
pub(super) fn rfc3339_millis(dt: &DateTime<Utc>) -> String {
    let year = dt.year();
    let nanos = dt.nanosecond();
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return dt.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut out = [0u8; 24];
    let mut put = |at: usize, n: u32, width: usize| {
        let mut n = n;
        for k in (0..width).rev() {
            out[at + k] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, dt.month(), 2);
    put(8, dt.day(), 2);
    put(11, dt.hour(), 2);
    put(14, dt.minute(), 2);
    put(17, dt.second(), 2);
    put(20, nanos / 1_000_000, 3);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
    ] {
        out[at] = c;
    }
    out[23] = b'Z';
    // ASCII only, so this is one copy (pushing 24 chars one by one was ~1 % of the daemon).
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::format::{Parsed, StrftimeItems, parse};
    use proptest::prelude::*;

    fn items(f: &str) -> Vec<Item<'static>> {
        StrftimeItems::new(f).parse_to_owned().unwrap()
    }

    /// What chrono alone makes of `text` (as the step does without the fast path, for a
    /// format with all six fields).
    fn chrono_only(text: &str, items: &[Item<'static>], tz: &Tz) -> Option<DateTime<Utc>> {
        let mut p = Parsed::new();
        parse(&mut p, text, items.iter()).ok()?;
        super::super::resolve(&p, tz)
    }

    const FORMATS: [&str; 4] = [
        "%d/%b/%Y:%H:%M:%S %z",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y%m%d%H%M%S",
    ];

    #[test]
    fn formats_with_all_fields_compile_and_others_do_not() {
        for f in FORMATS {
            assert!(FixedFormat::compile(&items(f)).is_some(), "{f}");
        }
        for f in [
            "%b %e %H:%M:%S",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d",
            "%s",
            "%d %d/%m/%Y %H:%M:%S",
        ] {
            assert!(FixedFormat::compile(&items(f)).is_none(), "{f}");
        }
    }

    #[test]
    fn an_apache_date() {
        let f = FixedFormat::compile(&items("%d/%b/%Y:%H:%M:%S %z")).unwrap();
        let d = f.parse("10/Oct/2000:13:55:36 -0700", &Tz::UTC).unwrap();
        assert_eq!(rfc3339_millis(&d), "2000-10-10T20:55:36.000Z");
    }

    proptest! {
        /// On whatever the fast path accepts, it agrees with chrono; and it accepts every
        /// well-formed, valid date (so the agreement is not vacuous).
        #[test]
        fn agrees_with_chrono(
            f in 0usize..FORMATS.len(),
            y in prop_oneof![0u32..=9999, 1990u32..2040],
            mo in 0u32..=13, d in 0u32..=32, h in 0u32..=25, mi in 0u32..=61, s in 0u32..=61,
            neg in any::<bool>(), oh in 0u32..=25, om in 0u32..=61,
            lower in any::<bool>(), utc in any::<bool>(),
        ) {
            let name = MONTHS.get(mo.wrapping_sub(1) as usize).map_or("Xyz".to_string(), |m| {
                let m = String::from_utf8_lossy(&m[..]).into_owned();
                if lower { m.to_lowercase() } else { m }
            });
            let off = format!("{}{oh:02}{om:02}", if neg { '-' } else { '+' });
            let text = match f {
                0 => format!("{d:02}/{name}/{y:04}:{h:02}:{mi:02}:{s:02} {off}"),
                1 => format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}"),
                2 => format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{off}"),
                _ => format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}"),
            };
            let tz = if utc { Tz::UTC } else { Tz::Europe__Paris };
            let its = items(FORMATS[f]);
            let fast = FixedFormat::compile(&its).unwrap().parse(&text, &tz);
            let slow = chrono_only(&text, &its, &tz);
            if let Some(t) = fast {
                prop_assert_eq!(Some(t), slow, "{}", text);
            }
            let offset_ok = oh <= 23 && om <= 59;
            let uses_offset = f == 0 || f == 2;
            let should = slow.is_some()
                && s <= 59
                && (f != 0 || !lower)
                && (!uses_offset || offset_ok)
                && (uses_offset || utc);
            prop_assert_eq!(fast.is_some(), should, "{}", text);
        }

        #[test]
        fn writes_what_chrono_writes(ms in -62_167_219_200_000i64..253_402_300_799_999) {
            let d = DateTime::from_timestamp_millis(ms).unwrap();
            prop_assert_eq!(rfc3339_millis(&d), d.to_rfc3339_opts(SecondsFormat::Millis, true));
        }
    }

    #[test]
    fn years_outside_four_digits_and_leap_seconds_go_to_chrono() {
        let d = DateTime::from_timestamp_millis(-62_167_219_200_001).unwrap();
        assert_eq!(
            rfc3339_millis(&d),
            d.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let f = FixedFormat::compile(&items("%Y-%m-%d %H:%M:%S")).unwrap();
        assert_eq!(f.parse("2016-12-31 23:59:60", &Tz::UTC), None);
    }
}
