//! Multiline joining with Filebeat's semantics (`pattern`, `negate`, `match: after | before`,
//! `max_lines`, `max_bytes`, flush `timeout`).

use super::config::{MultilineConfig, MultilineMatch};
use super::lines::{FLAG_MULTILINE_TRUNCATED, Line};
use regex::bytes::Regex;
use std::time::{Duration, Instant};

/// Joins lines into events for one file.
#[derive(Debug)]
pub(crate) struct Multiline {
    re: Regex,
    negate: bool,
    mode: MultilineMatch,
    max_lines: usize,
    max_bytes: usize,
    timeout: Duration,
    buf: Vec<u8>,
    offset: u64,
    end: u64,
    lines: usize,
    flags: u8,
    active: bool,
    last: Instant,
}

impl Multiline {
    /// Compiles the configuration; the error is the regex error text.
    pub fn new(cfg: &MultilineConfig) -> Result<Self, String> {
        let re = Regex::new(&cfg.pattern).map_err(|e| e.to_string())?;
        Ok(Multiline {
            re,
            negate: cfg.negate,
            mode: cfg.match_,
            max_lines: cfg.max_lines.max(1),
            max_bytes: cfg.max_bytes.max(1),
            timeout: cfg.timeout,
            buf: Vec::new(),
            offset: 0,
            end: 0,
            lines: 0,
            flags: 0,
            active: false,
            last: Instant::now(),
        })
    }

    /// Drops any incomplete event.
    pub fn reset(&mut self) {
        self.buf.clear();
        if self.buf.capacity() > 64 * 1024 {
            self.buf.shrink_to(0);
        }
        self.active = false;
        self.lines = 0;
        self.flags = 0;
    }

    fn start(&mut self, line: &Line<'_>, now: Instant) {
        self.buf.clear();
        let n = line.bytes.len().min(self.max_bytes);
        self.buf.extend_from_slice(&line.bytes[..n]);
        self.flags = line.flags;
        if n < line.bytes.len() {
            self.flags |= FLAG_MULTILINE_TRUNCATED;
        }
        self.offset = line.offset;
        self.end = line.end;
        self.lines = 1;
        self.active = true;
        self.last = now;
    }

    fn append(&mut self, line: &Line<'_>, now: Instant) {
        if self.lines >= self.max_lines || self.buf.len() + 1 + line.bytes.len() > self.max_bytes {
            self.flags |= FLAG_MULTILINE_TRUNCATED;
        } else {
            self.buf.push(b'\n');
            self.buf.extend_from_slice(line.bytes);
            self.flags |= line.flags;
        }
        self.lines += 1;
        self.end = line.end;
        self.last = now;
    }

    /// Feeds one line; calls `out` with every completed event.
    pub fn push(&mut self, line: Line<'_>, now: Instant, out: &mut impl FnMut(Line<'_>)) {
        let matched = self.re.is_match(line.bytes) != self.negate;
        match self.mode {
            MultilineMatch::After => {
                if matched && self.active {
                    self.append(&line, now);
                } else {
                    self.flush(out);
                    self.start(&line, now);
                }
            }
            MultilineMatch::Before => {
                if self.active {
                    self.append(&line, now);
                } else {
                    self.start(&line, now);
                }
                if !matched {
                    self.flush(out);
                }
            }
        }
    }

    /// Emits the held event, if any.
    pub fn flush(&mut self, out: &mut impl FnMut(Line<'_>)) {
        if !self.active {
            return;
        }
        out(Line {
            offset: self.offset,
            end: self.end,
            bytes: &self.buf,
            flags: self.flags,
        });
        self.reset();
    }

    /// Emits the held event if no line arrived for `timeout`.
    pub fn flush_if_timed_out(&mut self, now: Instant, out: &mut impl FnMut(Line<'_>)) {
        if self.active && now.duration_since(self.last) >= self.timeout {
            self.flush(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::lines::LineSplitter;

    fn run(cfg: MultilineConfig, text: &str) -> Vec<(u64, String, u8)> {
        let mut m = Multiline::new(&cfg).unwrap();
        let mut s = LineSplitter::new(1 << 20, 0);
        let mut out = Vec::new();
        let now = Instant::now();
        s.feed(text.as_bytes(), &mut |l| {
            m.push(l, now, &mut |e| {
                out.push((
                    e.offset,
                    String::from_utf8_lossy(e.bytes).into_owned(),
                    e.flags,
                ))
            })
        });
        m.flush(&mut |e| {
            out.push((
                e.offset,
                String::from_utf8_lossy(e.bytes).into_owned(),
                e.flags,
            ))
        });
        out
    }

    #[test]
    fn java_stack_trace_joins_after() {
        let cfg = MultilineConfig {
            pattern: r"^[ \t]+(at|\.\.\.)[ \t]|^Caused by:".into(),
            ..Default::default()
        };
        let text = "start\nException in thread \"main\" java.lang.IllegalStateException: boom\n\tat a.B.c(B.java:1)\n\tat a.B.main(B.java:9)\nCaused by: java.io.IOException: x\n\t... 2 more\nnext\n";
        let v = run(cfg, text);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].1, "start");
        assert!(v[1].1.starts_with("Exception") && v[1].1.ends_with("... 2 more"));
        assert_eq!(v[1].1.lines().count(), 5);
        assert_eq!(v[1].0, 6);
        assert_eq!(v[2].1, "next");
    }

    #[test]
    fn negate_after_joins_lines_not_starting_with_a_date() {
        let cfg = MultilineConfig {
            pattern: r"^\d{4}-\d{2}-\d{2}".into(),
            negate: true,
            ..Default::default()
        };
        let text = "2024-01-01 ERROR x\nTraceback (most recent call last):\n  File \"a.py\", line 1\nZeroDivisionError: division by zero\n2024-01-01 INFO y\n";
        let v = run(cfg, text);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].1.lines().count(), 4);
        assert_eq!(v[1].1, "2024-01-01 INFO y");
    }

    #[test]
    fn before_joins_continued_lines_with_the_next() {
        let cfg = MultilineConfig {
            pattern: r"\\$".into(),
            match_: MultilineMatch::Before,
            ..Default::default()
        };
        let v = run(cfg, "a \\\nb \\\nc\nd\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].1, "a \\\nb \\\nc");
        assert_eq!(v[1].1, "d");
    }

    #[test]
    fn max_lines_truncates_and_flags() {
        let cfg = MultilineConfig {
            pattern: r"^\s".into(),
            max_lines: 2,
            ..Default::default()
        };
        let v = run(cfg, "a\n b\n c\n d\ne\n");
        assert_eq!(v[0].1, "a\n b");
        assert_eq!(v[0].2 & FLAG_MULTILINE_TRUNCATED, FLAG_MULTILINE_TRUNCATED);
        assert_eq!(v[1].1, "e");
    }

    #[test]
    fn documented_java_classic_pattern() {
        let cfg = MultilineConfig {
            pattern: r"^[ \t]+(at|\.\.\.)[ \t]|^Caused by:".into(),
            ..Default::default()
        };
        let v = run(
            cfg,
            "java.lang.IllegalStateException: boom\n\tat a.B(B.java:1)\nCaused by: x\n\t... 2 more\nnext\n",
        );
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].1.lines().count(), 4);
    }

    #[test]
    fn documented_bare_python_traceback_pattern() {
        let cfg = MultilineConfig {
            pattern: r"^[ \t]|^Traceback \(most recent call last\):|^\w+(Error|Exception)\b|^During handling".into(),
            ..Default::default()
        };
        let text = "worker crashed\nTraceback (most recent call last):\n  File \"w.py\", line 4, in run\n    1 / 0\nZeroDivisionError: division by zero\nnext line\n";
        let v = run(cfg, text);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].1.lines().count(), 5);
        assert_eq!(v[1].1, "next line");
    }
}
