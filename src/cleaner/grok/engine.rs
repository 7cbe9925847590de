//! The engines that run an expanded grok expression, and how one is chosen.
//!
//! - **Linear**: the expression has no lookaround, atomic group, possessive quantifier or
//!   backreference: the `regex` crate runs it (linear time).
//! - **Verified**: the expression has lookarounds and/or atomic groups that are not inside a
//!   repetition. The `regex` crate runs a *relaxed* expression in which each lookaround is an
//!   empty marker group and each atomic group `(?>X)` a plain marker group `(?<k>X)`. The
//!   relaxed language contains the exact one, and both engines order alternatives the same
//!   (leftmost-first), so when the relaxed match also satisfies every assertion and atomic
//!   group *that took part in it* — checked at the marker positions with small anchored
//!   `regex`es — it is the match Oniguruma would report. Otherwise (rare: e.g. a number glued
//!   to another) the event is matched again by `fancy-regex` on the exact expression. No
//!   relaxed match means no exact match.
//! - **Backtracking**: anything else (lookarounds inside repetitions, backreferences,
//!   possessive quantifiers, nested atomic groups): `fancy-regex` runs the exact expression.

use std::sync::atomic::{AtomicU64, Ordering};

use regex::{CaptureLocations, Regex};

use super::GrokError;
use super::expand::Expanded;
use super::start::{Start, StartScratch};

/// Which engine runs a compiled pattern (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The `regex` crate alone.
    Linear,
    /// The `regex` crate with verified assertions, `fancy-regex` as fallback.
    Verified,
    /// `fancy-regex` alone.
    Backtracking,
}

#[derive(Debug)]
enum Check {
    /// `(?=X)` / `(?!X)` at the marker position: `re` is `\A(?:X)`.
    Ahead {
        group: usize,
        re: Regex,
        negate: bool,
    },
    /// `(?<=X)` / `(?<!X)`: `re` is `(?:X)\z`, run on the text before the marker.
    Behind {
        group: usize,
        re: Regex,
        negate: bool,
    },
    /// A lookaround whose content is one character (a class, usually): `re` is `\A(?:X)\z`,
    /// run on the character before (`behind`) or after the marker; `ascii` holds its answer
    /// for every ASCII character, computed once, so that log text needs no regex run.
    Char {
        group: usize,
        re: Regex,
        ascii: Box<[bool; 128]>,
        negate: bool,
        behind: bool,
    },
    /// `(?>X)`: the group's span must be X's preferred match from its start; `re` is `\A(?:X)`.
    Atomic { group: usize, re: Regex },
}

#[derive(Debug)]
enum Inner {
    Linear(Regex),
    Verified {
        relaxed: Regex,
        checks: Vec<Check>,
        exact: fancy_regex::Regex,
    },
    Backtracking(fancy_regex::Regex),
}

/// A compiled expression and the position of each capture in it.
#[derive(Debug)]
pub struct Engine {
    inner: Inner,
    /// For each capture (in [`Expanded::captures`] order): its group index in the `regex`
    /// expression (linear or relaxed), unused for backtracking.
    linear_index: Vec<usize>,
    /// For each capture: its group name, for `fancy-regex`.
    names: Vec<String>,
    /// Events the verified engine handed to `fancy-regex` because a check failed.
    fallbacks: AtomicU64,
    /// The `regex` expression (linear or relaxed) anchored at the start of the text, tried
    /// first (see `start.rs`).
    start: Option<Start>,
    /// The exact expression compiled by PCRE2's JIT, which runs first when it compiled (see
    /// [`Jit`]).
    jit: Option<Jit>,
}

/// The exact expression compiled by PCRE2 with its JIT: a backtracking engine with the same
/// leftmost-first semantics, lookarounds, atomic groups and backreferences as Oniguruma, and
/// about five times faster than the engines above on log patterns (`cargo bench --bench
/// grok`). When it cannot compile an expression (a group name it does not accept, …) or
/// gives up on a text (its match or stack limit), the engines above decide.
#[derive(Debug)]
struct Jit {
    re: pcre2::bytes::Regex,
    /// For each capture: its group index in `re`.
    index: Vec<usize>,
}

impl Jit {
    fn new(exact_src: &str, names: &[String]) -> Option<Jit> {
        let re = pcre2::bytes::RegexBuilder::new()
            .utf(true)
            .ucp(true)
            .jit_if_available(true)
            .build(exact_src)
            .ok()?;
        let groups = re.capture_names();
        let index = names
            .iter()
            .map(|n| groups.iter().position(|g| g.as_deref() == Some(n.as_str())))
            .collect::<Option<Vec<usize>>>()?;
        Some(Jit { re, index })
    }
}

/// Reusable per-match buffers.
#[derive(Debug)]
pub struct Scratch {
    locs: Option<CaptureLocations>,
    /// The start engine's search state.
    start: Option<StartScratch>,
    /// Whether the last `regex` match came from `start` (else from `locs`).
    from_start: bool,
    /// The JIT's groups.
    jit: Option<pcre2::bytes::CaptureLocations>,
    /// Span of each capture after a match (`None`: did not take part).
    pub spans: Vec<Option<(usize, usize)>>,
}

impl Engine {
    /// Compiles `x`; `pattern` is the grok expression, for errors.
    pub fn compile(pattern: &str, x: &Expanded) -> Result<Engine, GrokError> {
        let mut engine = Self::compile_without_jit(pattern, x)?;
        engine.jit = Jit::new(&format!("(?m){}", x.regex), &engine.names);
        Ok(engine)
    }

    /// [`Engine::compile`] without PCRE2: the engines that decide when the JIT does not.
    pub fn compile_without_jit(pattern: &str, x: &Expanded) -> Result<Engine, GrokError> {
        let names: Vec<String> = x.captures.iter().map(|c| c.group.clone()).collect();
        let exact_src = format!("(?m){}", x.regex);
        // The `regex` crate reads Ruby's possessive `a++` as `(?:a+)+`: never linear.
        let possessive = has_possessive(&x.regex);
        if !possessive && let Ok(re) = Regex::new(&exact_src) {
            let linear_index = index_of(&re, &names);
            let start = Start::new(re.as_str());
            return Ok(Engine {
                inner: Inner::Linear(re),
                linear_index,
                names,
                fallbacks: AtomicU64::new(0),
                start,
                jit: None,
            });
        }
        let exact = fancy_regex::Regex::new(&exact_src).map_err(|e| GrokError::BadRegex {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })?;
        if let Some((relaxed, checks)) = relax(&x.regex) {
            let linear_index = index_of(&relaxed, &names);
            let start = Start::new(relaxed.as_str());
            return Ok(Engine {
                inner: Inner::Verified {
                    relaxed,
                    checks,
                    exact,
                },
                linear_index,
                names,
                fallbacks: AtomicU64::new(0),
                start,
                jit: None,
            });
        }
        Ok(Engine {
            inner: Inner::Backtracking(exact),
            linear_index: Vec::new(),
            names,
            fallbacks: AtomicU64::new(0),
            start: None,
            jit: None,
        })
    }

    /// Which engine runs this expression.
    pub fn kind(&self) -> EngineKind {
        match self.inner {
            Inner::Linear(_) => EngineKind::Linear,
            Inner::Verified { .. } => EngineKind::Verified,
            Inner::Backtracking(_) => EngineKind::Backtracking,
        }
    }

    /// How many matches the verified engine handed to `fancy-regex` so far.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Fresh buffers for [`Engine::find`].
    pub fn scratch(&self) -> Scratch {
        let locs = match &self.inner {
            Inner::Linear(re) => Some(re.capture_locations()),
            Inner::Verified { relaxed, .. } => Some(relaxed.capture_locations()),
            Inner::Backtracking(_) => None,
        };
        Scratch {
            locs,
            jit: self.jit.as_ref().map(|j| j.re.capture_locations()),
            start: self.start.as_ref().and_then(Start::scratch),
            from_start: false,
            spans: vec![None; self.names.len()],
        }
    }

    /// True if PCRE2's JIT runs this expression first.
    pub fn has_jit(&self) -> bool {
        self.jit.is_some()
    }

    /// Matches `hay`; on success fills `scratch.spans` and returns true.
    pub fn find(&self, hay: &str, scratch: &mut Scratch) -> bool {
        if let (Some(jit), Some(locs)) = (&self.jit, scratch.jit.as_mut()) {
            match jit.re.captures_read(locs, hay.as_bytes()) {
                Ok(Some(_)) => {
                    for (span, &g) in scratch.spans.iter_mut().zip(&jit.index) {
                        *span = locs.get(g);
                    }
                    return true;
                }
                Ok(None) => return false,
                Err(e) => {
                    tracing::debug!(error = %e, "grok: PCRE2 gave up; trying the other engines");
                }
            }
        }
        match &self.inner {
            Inner::Linear(re) => {
                if !self.regex_match(re, hay, scratch) {
                    return false;
                }
                scratch.copy_spans(&self.linear_index);
                true
            }
            Inner::Verified {
                relaxed,
                checks,
                exact,
            } => {
                if !self.regex_match(relaxed, hay, scratch) {
                    return false;
                }
                if checks.iter().all(|c| c.holds(hay, scratch)) {
                    scratch.copy_spans(&self.linear_index);
                    return true;
                }
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("sluice_grok_backtracking_fallbacks_total").increment(1);
                self.fancy(exact, hay, scratch)
            }
            Inner::Backtracking(exact) => self.fancy(exact, hay, scratch),
        }
    }

    /// Runs the `regex` expression `re` (linear or relaxed) on `hay`, leaving its groups in
    /// `scratch`: the start engine first (a match at 0 is exactly `re`'s match, see
    /// `start.rs`), else `re` on the whole text.
    fn regex_match(&self, re: &Regex, hay: &str, scratch: &mut Scratch) -> bool {
        if let (Some(start), Some(ss)) = (&self.start, scratch.start.as_mut())
            && start.search(hay, ss)
        {
            scratch.from_start = true;
            return true;
        }
        scratch.from_start = false;
        let Some(locs) = scratch.locs.as_mut() else {
            return false;
        };
        re.captures_read(locs, hay).is_some()
    }

    fn fancy(&self, re: &fancy_regex::Regex, hay: &str, scratch: &mut Scratch) -> bool {
        match re.captures(hay) {
            Ok(Some(caps)) => {
                for (span, name) in scratch.spans.iter_mut().zip(&self.names) {
                    *span = caps.name(name).map(|m| (m.start(), m.end()));
                }
                true
            }
            Ok(None) => false,
            Err(e) => {
                // The backtrack limit was hit: treat as no match, but say so.
                tracing::debug!(error = %e, "grok: backtracking engine gave up");
                false
            }
        }
    }
}

impl Scratch {
    /// Span of group `i` of the last `regex` match.
    fn group(&self, i: usize) -> Option<(usize, usize)> {
        if self.from_start {
            self.start
                .as_ref()?
                .caps
                .get_group(i)
                .map(|s| (s.start, s.end))
        } else {
            self.locs.as_ref()?.get(i)
        }
    }

    /// Copies the captures' spans (group `index[k]` for capture `k`) into `spans`.
    fn copy_spans(&mut self, index: &[usize]) {
        for k in 0..self.spans.len() {
            let span = index.get(k).and_then(|&i| self.group(i));
            self.spans[k] = span;
        }
    }
}

impl Check {
    fn holds(&self, hay: &str, locs: &Scratch) -> bool {
        match self {
            Check::Ahead { group, re, negate } => match locs.group(*group) {
                None => true,
                Some((p, _)) => re.is_match(&hay[p..]) != *negate,
            },
            Check::Behind { group, re, negate } => match locs.group(*group) {
                None => true,
                Some((p, _)) => re.is_match(&hay[..p]) != *negate,
            },
            Check::Char {
                group,
                re,
                ascii,
                negate,
                behind,
            } => match locs.group(*group) {
                None => true,
                Some((p, _)) => {
                    let c = if *behind {
                        hay[..p].chars().next_back()
                    } else {
                        hay[p..].chars().next()
                    };
                    let matched = c.is_some_and(|c| match ascii.get(c as usize) {
                        Some(&m) => m,
                        None => re.is_match(c.encode_utf8(&mut [0u8; 4])),
                    });
                    matched != *negate
                }
            },
            Check::Atomic { group, re } => match locs.group(*group) {
                None => true,
                Some((s, e)) => re.find(&hay[s..]).is_some_and(|m| m.end() == e - s),
            },
        }
    }
}

fn index_of(re: &Regex, names: &[String]) -> Vec<usize> {
    let all: Vec<Option<&str>> = re.capture_names().collect();
    names
        .iter()
        .map(|n| {
            all.iter()
                .position(|m| *m == Some(n.as_str()))
                .unwrap_or(usize::MAX)
        })
        .collect()
}

/// A group open while relaxing.
struct Open {
    /// Markers created inside this group (including its own).
    markers: bool,
    /// For a lookaround or atomic group: its kind and where its content starts in the source.
    special: Option<(Special, usize)>,
}

#[derive(Clone, Copy)]
enum Special {
    Ahead(bool),
    Behind(bool),
    Atomic,
}

/// Builds the relaxed expression and its checks; `None` when it cannot be verified exactly.
fn relax(src: &str) -> Option<(Regex, Vec<Check>)> {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 64);
    let mut stack: Vec<Open> = Vec::new();
    let mut pending: Vec<(Special, String, String)> = Vec::new(); // kind, marker name, content
    let mut i = 0;
    let mut n = 0usize;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                // Backreferences cannot be verified.
                if matches!(b.get(i + 1), Some(b'1'..=b'9' | b'k' | b'g')) {
                    return None;
                }
                let ch = src[i + 1..].chars().next()?;
                out.push_str(&src[i..i + 1 + ch.len_utf8()]);
                i += 1 + ch.len_utf8();
            }
            b'[' => {
                let end = class_end(src, i)?;
                out.push_str(&src[i..end]);
                i = end;
            }
            b'(' => {
                let rest = &src[i..];
                let special = if rest.starts_with("(?=") {
                    Some((Special::Ahead(false), 3))
                } else if rest.starts_with("(?!") {
                    Some((Special::Ahead(true), 3))
                } else if rest.starts_with("(?<=") {
                    Some((Special::Behind(false), 4))
                } else if rest.starts_with("(?<!") {
                    Some((Special::Behind(true), 4))
                } else if rest.starts_with("(?>") {
                    Some((Special::Atomic, 3))
                } else {
                    None
                };
                match special {
                    Some((kind, len)) => {
                        // Nothing special may nest inside a special group.
                        if stack.iter().any(|o| o.special.is_some()) {
                            return None;
                        }
                        for o in stack.iter_mut() {
                            o.markers = true;
                        }
                        stack.push(Open {
                            markers: true,
                            special: Some((kind, i + len)),
                        });
                        let name = format!("k{n}");
                        n += 1;
                        out.push_str("(?<");
                        out.push_str(&name);
                        out.push('>');
                        // A lookaround's content is dropped from the relaxed expression
                        // when its group closes; an atomic group's content stays.
                        pending.push((kind, name, String::new()));
                        i += len;
                    }
                    None => {
                        stack.push(Open {
                            markers: false,
                            special: None,
                        });
                        out.push('(');
                        i += 1;
                    }
                }
            }
            b')' => {
                let open = stack.pop()?;
                if let Some((kind, start)) = open.special {
                    let content = &src[start..i];
                    // The checks run on a slice of the text: anchors and word boundaries in
                    // the content would lose their context, so those are not verified.
                    if context_dependent(content) {
                        return None;
                    }
                    let last = pending.iter_mut().rev().find(|p| p.2.is_empty())?;
                    last.2 = content.to_string();
                    if !matches!(kind, Special::Atomic) {
                        // A capture inside a lookaround cannot be seen by the relaxed match.
                        if content.contains("(?<g") {
                            return None;
                        }
                        // Drop the content copied so far: a lookaround is an empty marker.
                        let marker_start = out.rfind(&format!("(?<{}>", last.1))?;
                        out.truncate(marker_start + last.1.len() + 4);
                    }
                }
                out.push(')');
                i += 1;
                // Markers inside a repeated group record only one iteration: not verifiable.
                if open.markers {
                    match b.get(i) {
                        Some(b'*' | b'+') => return None,
                        Some(b'{') if !at_most_once(&src[i..]) => return None,
                        Some(b'?') if b.get(i + 1) == Some(&b'+') => return None,
                        _ => {}
                    }
                }
            }
            b'*' | b'+' | b'?' | b'}' if b.get(i + 1) == Some(&b'+') => {
                return None; // possessive quantifier
            }
            _ => {
                let ch = src[i..].chars().next()?;
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    let relaxed = Regex::new(&format!("(?m){out}")).ok()?;
    let mut checks = Vec::new();
    for (kind, name, content) in pending {
        let group = relaxed
            .capture_names()
            .position(|m| m == Some(name.as_str()))?;
        let check = match kind {
            Special::Ahead(negate) | Special::Behind(negate) if single_char(&content) => {
                let re = Regex::new(&format!("\\A(?:{content})\\z")).ok()?;
                let mut ascii = Box::new([false; 128]);
                for (b, slot) in (0u8..128).zip(ascii.iter_mut()) {
                    *slot = re.is_match(char::from(b).encode_utf8(&mut [0u8; 4]));
                }
                Check::Char {
                    group,
                    re,
                    ascii,
                    negate,
                    behind: matches!(kind, Special::Behind(_)),
                }
            }
            Special::Ahead(negate) => Check::Ahead {
                group,
                re: Regex::new(&format!("(?m)\\A(?:{content})")).ok()?,
                negate,
            },
            Special::Behind(negate) => Check::Behind {
                group,
                re: Regex::new(&format!("(?m)(?:{content})\\z")).ok()?,
                negate,
            },
            Special::Atomic => Check::Atomic {
                group,
                re: Regex::new(&format!("(?m)\\A(?:{content})")).ok()?,
            },
        };
        checks.push(check);
    }
    Some((relaxed, checks))
}

/// True if `src` has a possessive quantifier (`*+`, `++`, `?+`, `{n,m}+`).
fn has_possessive(src: &str) -> bool {
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'[' => {
                match class_end(src, i) {
                    Some(end) => i = end,
                    None => return false,
                }
                continue;
            }
            b'*' | b'+' | b'}' if b.get(i + 1) == Some(&b'+') => return true,
            b'?' if i > 0 && b[i - 1] != b'(' && b.get(i + 1) == Some(&b'+') => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// True if `content` has an assertion that looks at the text around it (`^`, `$`, `\b`, `\B`,
/// `\A`, `\z`). Conservative: a `^` that is not right after `[` counts.
fn context_dependent(content: &str) -> bool {
    let b = content.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if matches!(b.get(i + 1), Some(b'b' | b'B' | b'A' | b'z' | b'Z' | b'G')) {
                    return true;
                }
                i += 2;
                continue;
            }
            b'$' => return true,
            b'^' if i == 0 || b[i - 1] != b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// True if `content` matches exactly one character: one class, escape or literal.
fn single_char(content: &str) -> bool {
    if content.starts_with('[') {
        return class_end(content, 0) == Some(content.len());
    }
    let mut chars = content.chars();
    match (chars.next(), chars.next(), chars.next()) {
        (Some('\\'), Some(c), None) => !c.is_ascii_alphanumeric() || matches!(c, 't' | 'n' | 'r'),
        (Some(c), None, None) => !"^$.|?*+()[]{}".contains(c),
        _ => false,
    }
}

/// True for a `{0,1}`, `{1}`, `{1,1}` or `{0}` quantifier at the start of `s`.
fn at_most_once(s: &str) -> bool {
    ["{0,1}", "{1}", "{1,1}", "{0}", "{,1}"]
        .iter()
        .any(|q| s.starts_with(q))
}

/// The index after the character class starting at `start`.
fn class_end(src: &str, start: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = start;
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let ch = src[i + 1..].chars().next()?;
                i += 1 + ch.len_utf8();
                continue;
            }
            b'[' => {
                depth += 1;
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                continue;
            }
            b']' => {
                depth -= 1;
                i += 1;
                if depth == 0 {
                    return Some(i);
                }
                continue;
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cleaner::grok::expand::expand;
    use std::collections::BTreeMap;

    fn kind(p: &str) -> EngineKind {
        let x = expand(p, &BTreeMap::new()).unwrap();
        Engine::compile(p, &x).unwrap().kind()
    }

    #[test]
    fn engine_choice() {
        assert_eq!(kind("a+b"), EngineKind::Linear);
        assert_eq!(kind("(?<![0-9])a(?!b)"), EngineKind::Verified);
        assert_eq!(kind("(?>a+)b"), EngineKind::Verified);
        assert_eq!(kind("(?:(?<![0-9])a)?b"), EngineKind::Verified);
        assert_eq!(kind("(?:(?<![0-9])a)+b"), EngineKind::Backtracking);
        assert_eq!(kind("(?>\\bab|a)c"), EngineKind::Backtracking);
        assert_eq!(kind("(?=(?<x>a))a"), EngineKind::Backtracking);
        assert_eq!(kind("a++"), EngineKind::Backtracking);
    }

    #[test]
    fn single_character_contents() {
        assert!(single_char("[0-9.+-]"));
        assert!(single_char("\\\\"));
        assert!(single_char("x"));
        assert!(!single_char("ab"));
        assert!(!single_char("[0-9]+"));
        assert!(
            context_dependent("\\bfoo") && context_dependent("a$") && !context_dependent("[^a]")
        );
    }
}
