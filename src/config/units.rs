//! Human units: durations (`250ms`, `5s`, `5m`, `1h30m`, `7d`) and sizes (`512`, `64KiB`,
//! `5MiB`, `10GiB`, `1.5GB`).

use std::time::Duration;

/// What a duration must look like, for error messages.
pub const DURATION_EXPECTED: &str =
    "a duration: a number and a unit (ms, s, m, h, d, w; e.g. 250ms, 5s, 1h30m, 7d)";
/// What a size must look like, for error messages.
pub const SIZE_EXPECTED: &str =
    "a size: bytes, or a number and a unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB; e.g. 5MiB)";

/// Parses a duration: one or more `<number><unit>` parts (`1h30m`); `0` alone is zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{s}` has no unit"))?;
        if num_end == 0 {
            return Err(format!("`{s}` is not a duration"));
        }
        let n: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{}` is not a number", &rest[..num_end]))?;
        let after = &rest[num_end..];
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let unit = after[..unit_end].trim();
        let secs = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 604_800.0,
            _ => return Err(format!("unknown duration unit `{unit}` in `{s}`")),
        };
        total += n * secs;
        rest = &after[unit_end..];
    }
    if !total.is_finite() || total > 1e12 {
        return Err(format!("`{s}` is too long"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Parses a size in bytes: a plain integer, or a number and a unit (decimal `KB`/`MB`/…,
/// binary `KiB`/`MiB`/…; unit letters are case-insensitive).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if num_end == 0 {
        return Err(format!("`{s}` is not a size"));
    }
    let n: f64 = t[..num_end]
        .parse()
        .map_err(|_| format!("`{}` is not a number", &t[..num_end]))?;
    let unit = t[num_end..].trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024f64.powi(4),
        _ => return Err(format!("unknown size unit `{}` in `{s}`", &t[num_end..])),
    };
    let bytes = n * mult;
    if !bytes.is_finite() || bytes > u64::MAX as f64 {
        return Err(format!("`{s}` is too large"));
    }
    if bytes.fract() != 0.0 {
        return Err(format!("`{s}` is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5MiB"), Ok(5 * 1024 * 1024));
        assert_eq!(parse_size("10GiB"), Ok(10 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("1KB"), Ok(1000));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert!(parse_size("5 lbs").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("0.3B").is_err());
    }
}
