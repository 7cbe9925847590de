//! Back-off between retries: exponential from `retry.initial` to `retry.max` with "equal
//! jitter" (half fixed, half random), and `Retry-After` honoured.

use super::config::RetryConfig;
use std::time::Duration;

/// Longest `Retry-After` we honour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// The back-off state of one retried request.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    retries: u32,
}

impl Backoff {
    /// A fresh back-off for `cfg`.
    pub fn new(cfg: &RetryConfig) -> Self {
        Backoff {
            initial: cfg.initial,
            max: cfg.max.max(cfg.initial),
            retries: 0,
        }
    }

    /// The base delay (before jitter) of the next retry.
    fn base(&self) -> Duration {
        let factor = 1u32.checked_shl(self.retries.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next retry; `retry_after` (from the server) wins when longer.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let base = self.base();
        self.retries = self.retries.saturating_add(1);
        let half = base / 2;
        let jitter = Duration::from_nanos(fastrand::u64(0..=half.as_nanos() as u64));
        let d = half + jitter;
        match retry_after {
            Some(ra) => d.max(ra.min(MAX_RETRY_AFTER)),
            None => d,
        }
    }
}

/// Parses a `Retry-After` header: delay seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_with_jitter_up_to_max() {
        let cfg = RetryConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 0,
        };
        let mut b = Backoff::new(&cfg);
        let bases = [100u64, 200, 400, 800, 1000, 1000];
        for base in bases {
            let d = b.next_delay(None);
            let base = Duration::from_millis(base);
            assert!(d >= base / 2 && d <= base, "{d:?} vs {base:?}");
        }
        for _ in 0..100 {
            assert!(b.next_delay(None) <= Duration::from_secs(1));
        }
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let mut b = Backoff::new(&RetryConfig::default());
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(9999))),
            MAX_RETRY_AFTER
        );
    }

    #[test]
    fn parses_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
