//! The start engine: the `regex` expression (linear or relaxed, see `engine.rs`) run by the
//! bounded backtracker anchored at the start of the text, in variants without the library's
//! biggest subexpressions when the text shows they cannot match anywhere in it.
//!
//! Log-line patterns nearly always match at the start of the line. A match found there is the
//! leftmost one, and the backtracker explores alternatives in the same (leftmost-first) order
//! as the `regex` crate, so it is exactly the match the `regex` crate reports — without its
//! forward and reverse DFA passes, which only locate the match before the same backtracker
//! runs on it. No match at 0 (or a text too long for the visited set) says nothing: the caller
//! then runs the `regex` crate on the whole text.
//!
//! The backtracker clears a visited set of (automaton states × text length) bits per search,
//! and half of `COMBINEDAPACHELOG`'s 2,600 states are `IPV6`, a fifth the two
//! `EMAILADDRESS`es of `HTTPDUSER`. A subexpression that cannot match any substring of the
//! text takes part in no match, so replacing it by a group that never matches changes
//! nothing: `EMAILADDRESS` needs an `@` in the text, `IPV6` a `::` or six `hex{1,4}:` groups
//! in a row (see [`may_hold_ipv6`]). Both pre-checks are `memchr` scans.

use std::sync::LazyLock;

use regex_automata::nfa::thompson::backtrack::{self, BoundedBacktracker};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};

use super::EcsCompatibility;
use super::expand::expand;
use super::library::builtin;

/// Heap memory (bytes) of the visited set: with the 2,600-state `COMBINEDAPACHELOG` this
/// covers lines up to ~3,000 bytes; longer ones go to the `regex` crate directly.
const VISITED_BYTES: usize = 1 << 20;

/// A group that never matches (an empty class).
const NEVER: &str = "(?:[^\\x00-\\x{10FFFF}])";

/// Library patterns that may be left out, as the expander writes them (`(?:…)`; the same text
/// in both naming sets): bit 0 `IPV6`, bit 1 `EMAILADDRESS`.
static REMOVABLE: LazyLock<[Option<String>; 2]> = LazyLock::new(|| {
    let defs = builtin(EcsCompatibility::Disabled);
    let text = |name: &str| expand(&format!("%{{{name}}}"), defs).ok().map(|x| x.regex);
    [text("IPV6"), text("EMAILADDRESS")]
});

/// The start engine of one expression.
#[derive(Debug)]
pub(crate) struct Start {
    /// Index: bit set of the patterns left out (0: the whole expression); `None` where the
    /// expression does not contain all of them.
    variants: [Option<BoundedBacktracker>; 4],
}

/// Reusable search state (one cache serves every variant: it is sized per search).
#[derive(Debug)]
pub(crate) struct StartScratch {
    cache: backtrack::Cache,
    /// The groups of the last match.
    pub caps: Captures,
}

impl Start {
    /// The start engine for `src` (a `regex` crate expression); `None` if the backtracker
    /// cannot be built.
    pub(crate) fn new(src: &str) -> Option<Start> {
        let full = build(src)?;
        let mut variants: [Option<BoundedBacktracker>; 4] = [None, None, None, None];
        for (mask, slot) in variants.iter_mut().enumerate().skip(1) {
            *slot = without(src, mask).and_then(|s| build(&s)).filter(|bt| {
                let (a, b) = (bt.get_nfa().group_info(), full.get_nfa().group_info());
                a.all_group_len() == b.all_group_len()
                    && (0..a.group_len(0.into()))
                        .all(|g| a.to_name(0.into(), g) == b.to_name(0.into(), g))
            });
        }
        variants[0] = Some(full);
        Some(Start { variants })
    }

    /// Fresh search state.
    pub(crate) fn scratch(&self) -> Option<StartScratch> {
        let bt = self.variants[0].as_ref()?;
        Some(StartScratch {
            cache: bt.create_cache(),
            caps: bt.create_captures(),
        })
    }

    /// Looks for a match at the start of `hay`; on success its groups are in `scratch.caps`.
    pub(crate) fn search(&self, hay: &str, scratch: &mut StartScratch) -> bool {
        let mut mask = 0;
        if self.variants[1].is_some() && !may_hold_ipv6(hay.as_bytes()) {
            mask |= 1;
        }
        if self.variants[2].is_some() && memchr::memchr(b'@', hay.as_bytes()).is_none() {
            mask |= 2;
        }
        let bt = [mask, mask & 1, mask & 2, 0]
            .into_iter()
            .find_map(|m| self.variants[m].as_ref());
        let Some(bt) = bt else {
            return false;
        };
        if hay.len() > bt.max_haystack_len() {
            return false;
        }
        let input = Input::new(hay).anchored(Anchored::Yes);
        bt.try_search(&mut scratch.cache, &input, &mut scratch.caps)
            .is_ok()
            && scratch.caps.is_match()
    }
}

fn build(src: &str) -> Option<BoundedBacktracker> {
    BoundedBacktracker::builder()
        .configure(BoundedBacktracker::config().visited_capacity(VISITED_BYTES))
        .build(src)
        .ok()
}

/// `src` with each removable pattern in `mask` replaced by [`NEVER`]; `None` if one of them
/// does not occur.
fn without(src: &str, mask: usize) -> Option<String> {
    let mut out = src.to_string();
    for (bit, text) in REMOVABLE.iter().enumerate() {
        if mask & (1 << bit) != 0 {
            out = replace_groups(&out, text.as_deref()?)?;
        }
    }
    Some(out)
}

/// Replaces each occurrence of the group `text` (not after an escaping backslash) by
/// [`NEVER`]; `None` if there is none.
fn replace_groups(src: &str, text: &str) -> Option<String> {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    let mut replaced = false;
    while let Some(at) = rest.find(text) {
        let escapes = rest[..at].bytes().rev().take_while(|&b| b == b'\\').count();
        out.push_str(&rest[..at]);
        if escapes % 2 == 0 {
            out.push_str(NEVER);
            replaced = true;
        } else {
            out.push_str(text);
        }
        rest = &rest[at + text.len()..];
    }
    out.push_str(rest);
    replaced.then_some(out)
}

/// False when no substring of `text` can match the library's `IPV6`.
///
/// Every `IPV6` match contains `::` or six `hex{1,4}:` groups in a row: the `(h:){7}` form has
/// seven; the `(h:){6}` form ends in `:h`, `:` (both give `::`) or an IPv4 address after the
/// six groups; every shorter form (`(h:){k}` with k < 6, or a leading `:`) continues with
/// `:` right after its last `:`. Only the colons are looked at.
pub(crate) fn may_hold_ipv6(text: &[u8]) -> bool {
    let mut chain = 0usize;
    let mut prev: Option<usize> = None;
    for i in memchr::memchr_iter(b':', text) {
        if text.get(i + 1) == Some(&b':') {
            return true;
        }
        let hex_before = text[..i]
            .iter()
            .rev()
            .take(5)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        chain = match prev {
            // The group since the previous colon is exactly `hex{1,4}`: the chain goes on.
            Some(p) if (1..=4).contains(&hex_before) && p + hex_before + 1 == i => chain + 1,
            // A chain can start with the last 1–4 hex digits of a longer run.
            _ if hex_before >= 1 => 1,
            _ => 0,
        };
        if chain >= 6 {
            return true;
        }
        prev = Some(i);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    /// Every match of the library's `IPV6` is seen by `may_hold_ipv6`.
    #[test]
    fn ipv6_precheck_never_misses_an_address() {
        let ipv6 = Regex::new(REMOVABLE[0].as_deref().unwrap()).unwrap();
        let legacy = expand("%{IPV6}", builtin(EcsCompatibility::V1)).unwrap();
        assert_eq!(Some(legacy.regex.as_str()), REMOVABLE[0].as_deref());
        let email = expand("%{EMAILADDRESS}", builtin(EcsCompatibility::V1)).unwrap();
        assert_eq!(Some(email.regex.as_str()), REMOVABLE[1].as_deref());
        assert!(email.regex.contains('@') && !email.regex.contains("(?<"));
        let apache = expand("%{COMBINEDAPACHELOG}", builtin(EcsCompatibility::V1)).unwrap();
        let start = Start::new(
            &apache
                .regex
                .replace("(?<![0-9.+-])", "")
                .replace("(?<![0-9])", "")
                .replace("(?![0-9])", "")
                .replace("(?<!\\\\)", "")
                .replace("(?>", "(?:"),
        )
        .unwrap();
        assert!(start.variants.iter().all(|v| v.is_some()));
        for a in [
            "::",
            "::1",
            "fe80::1%eth0",
            "2001:db8::8a2e:370:7334",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "::ffff:10.0.0.1",
            "x 1:2:3:4:5:6:7:: y",
            "a:b:c:d:e:f:0:1",
        ] {
            assert!(ipv6.is_match(a), "{a}");
            assert!(may_hold_ipv6(a.as_bytes()), "{a}");
        }
        for a in [
            "10.1.2.3",
            "[10/May/2015:13:55:36 +0000]",
            "a:b:c:d:e",
            "12345:1:2:3:4",
        ] {
            assert!(!may_hold_ipv6(a.as_bytes()), "{a}");
        }
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &"(?:[0-9a-fA-F]{1,5}[:.]|:|[0-9]{1,3}\\.|[ g%-]){0,14}[0-9a-f]{0,5}",
                |s| {
                    if ipv6.is_match(&s) {
                        proptest::prop_assert!(may_hold_ipv6(s.as_bytes()), "{:?}", s);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    /// The start backtracker (with and without `IPV6`) reports the exact expression's match.
    #[test]
    fn start_backtracker_agrees_with_the_exact_expression() {
        let defs = builtin(EcsCompatibility::Disabled);
        let p = "%{IPORHOST:h}(?: %{HTTPDUSER:u})?(?: %{WORD:w})?(?<t>x|xy)?";
        let x = expand(p, defs).unwrap();
        let e = crate::cleaner::grok::engine::Engine::compile(p, &x).unwrap();
        let re = fancy_regex::Regex::new(&format!("(?m){}", x.regex)).unwrap();
        let long = format!("{} host", "a".repeat(5_000));
        let lines = [
            "10.1.2.3 GET",
            "fe80::1 xy",
            "1:2:3:4:5:6:7:8 abc",
            "::ffff:1.2.3.4 q",
            "- - 10.0.0.1",
            "host.example.com GETxy",
            "1.2.3.4 bob@example.com GET",
            "fe80::2 a@b.c xy",
            "h - x @",
            "[x] 2001:db8::1 w",
            "",
            "::",
            long.as_str(),
        ];
        let mut scratch = e.scratch();
        for l in lines {
            let want = re.captures(l).unwrap().map(|c| {
                x.captures
                    .iter()
                    .map(|k| c.name(&k.group).map(|m| (m.start(), m.end())))
                    .collect::<Vec<_>>()
            });
            let got = e.find(l, &mut scratch).then(|| scratch.spans.clone());
            assert_eq!(got, want, "{l:?}");
        }
    }
}
