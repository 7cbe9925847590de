//! Expansion of grok expressions (`%{NAME:field:type}`) into one regular expression.
//!
//! The output is written in the dialect both of our engines read (the `regex` crate and
//! `fancy-regex`), translated from the Oniguruma dialect that Logstash's patterns are written in:
//!
//! - every capture is renamed to an internal group `gN` and recorded as a [`CaptureSpec`]
//!   (field path and type); plain `( … )` groups become non-capturing, as Oniguruma treats them
//!   once a pattern has named groups;
//! - `\w \d \s \h` (and their negations) are ASCII as in Ruby; `\b` is Unicode-aware;
//! - Ruby's `(?m)` (dot matches newline) becomes `(?s)`; `^`/`$` are always line anchors in
//!   Ruby, so the compiled expression runs in multi-line mode;
//! - `(?#…)` comments are removed.

use std::collections::BTreeMap;

use super::GrokError;

/// How a captured value is converted (`%{NUMBER:bytes:int}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureKind {
    /// Kept as a string.
    String,
    /// Ruby's `to_i`: the leading integer, `0` if none.
    Int,
    /// Ruby's `to_f`: the leading decimal number, `0.0` if none.
    Float,
}

/// One capture of an expanded expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSpec {
    /// Internal group name in the expanded expression (`g0`, `g1`, …).
    pub group: String,
    /// Field the value is written to, as written by the user (`bytes`, `[http][request][method]`).
    pub field: String,
    /// Conversion applied to the value.
    pub kind: CaptureKind,
}

/// A grok expression expanded into one regular expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    /// The expression, in the translated dialect, without the leading `(?m)`.
    pub regex: String,
    /// The captures, in order of their groups.
    pub captures: Vec<CaptureSpec>,
}

/// Expands `pattern` with the named definitions `defs` (library, files and inline).
pub fn expand(pattern: &str, defs: &BTreeMap<String, String>) -> Result<Expanded, GrokError> {
    let mut x = Expander {
        defs,
        top: pattern,
        out: String::with_capacity(pattern.len() * 8),
        captures: Vec::new(),
        stack: Vec::new(),
    };
    x.text(pattern)?;
    Ok(Expanded {
        regex: x.out,
        captures: x.captures,
    })
}

struct Expander<'a> {
    defs: &'a BTreeMap<String, String>,
    top: &'a str,
    out: String,
    captures: Vec<CaptureSpec>,
    /// Names being expanded, to report recursion.
    stack: Vec<String>,
}

impl Expander<'_> {
    /// Opens the named group of a capture into `field` (`g<n>`, in capture order) and records
    /// it; the caller writes the group's content and closing parenthesis.
    fn open_capture(&mut self, field: &str, kind: CaptureKind) {
        let group = format!("g{}", self.captures.len());
        self.out.push_str("(?<");
        self.out.push_str(&group);
        self.out.push('>');
        self.captures.push(CaptureSpec {
            group,
            field: field.to_string(),
            kind,
        });
    }

    fn text(&mut self, s: &str) -> Result<(), GrokError> {
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            match c {
                b'\\' => i = self.escape(s, i, false),
                b'[' => i = self.class(s, i),
                b'%' if b.get(i + 1) == Some(&b'{') => i = self.reference(s, i)?,
                b'(' => i = self.group(s, i)?,
                b'{' => i = self.brace(s, i),
                b'}' => {
                    // Only reached for a `}` that closes no quantifier: a literal in Ruby.
                    self.out.push_str("\\}");
                    i += 1;
                }
                _ => {
                    // Copy one whole UTF-8 character.
                    let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                    self.out.push(ch);
                    i += ch.len_utf8().max(1);
                }
            }
        }
        Ok(())
    }

    /// Copies a `{n}`, `{n,}`, `{n,m}` or `{,m}` quantifier; any other `{` is a literal, as in
    /// Ruby.
    fn brace(&mut self, s: &str, i: usize) -> usize {
        let rest = &s[i + 1..];
        if let Some(end) = rest.find('}') {
            let body = &rest[..end];
            let valid = !body.is_empty()
                && body.bytes().all(|c| c.is_ascii_digit() || c == b',')
                && body.bytes().filter(|&c| c == b',').count() <= 1
                && body != ",";
            if valid {
                if body.starts_with(',') {
                    self.out.push_str("{0");
                    self.out.push_str(body);
                    self.out.push('}');
                } else {
                    self.out.push_str(&s[i..i + 1 + end + 1]);
                }
                return i + 1 + end + 1;
            }
        }
        self.out.push_str("\\{");
        i + 1
    }

    /// Translates the escape at `i`; returns the index after it.
    fn escape(&mut self, s: &str, i: usize, in_class: bool) -> usize {
        let Some(ch) = s[i + 1..].chars().next() else {
            self.out.push_str("\\\\");
            return i + 1;
        };
        // A named backreference follows its group's new internal name.
        if ch == 'k'
            && !in_class
            && let Some(rest) = s[i + 2..].strip_prefix('<')
            && let Some(end) = rest.find('>')
        {
            let name = &rest[..end];
            let target = self
                .captures
                .iter()
                .rev()
                .find(|c| c.field == name)
                .map_or(name, |c| c.group.as_str());
            self.out.push_str("\\k<");
            self.out.push_str(target);
            self.out.push('>');
            return i + 3 + end + 1;
        }
        let t: Option<&str> = match (ch, in_class) {
            ('w', false) => Some("[0-9A-Za-z_]"),
            ('w', true) => Some("0-9A-Za-z_"),
            ('W', false) => Some("[^0-9A-Za-z_]"),
            ('d', false) => Some("[0-9]"),
            ('d', true) => Some("0-9"),
            ('D', false) => Some("[^0-9]"),
            ('s', false) => Some("[\\t\\n\\x0B\\x0C\\r ]"),
            ('s', true) => Some("\\t\\n\\x0B\\x0C\\r "),
            ('S', false) => Some("[^\\t\\n\\x0B\\x0C\\r ]"),
            ('h', false) => Some("[0-9a-fA-F]"),
            ('h', true) => Some("0-9a-fA-F"),
            ('H', false) => Some("[^0-9a-fA-F]"),
            // `\b` stays the Unicode word boundary (both engines read it).
            _ => None,
        };
        match t {
            Some(t) => self.out.push_str(t),
            None => {
                self.out.push('\\');
                self.out.push(ch);
            }
        }
        i + 1 + ch.len_utf8()
    }

    /// Copies a character class starting at `i` (translating escapes); returns the index after.
    fn class(&mut self, s: &str, start: usize) -> usize {
        let b = s.as_bytes();
        let mut i = start;
        let mut depth = 0usize;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    i = self.escape(s, i, true);
                    continue;
                }
                b'[' => {
                    // `[:alpha:]` inside a class is a POSIX class, copied as is.
                    if depth > 0
                        && b.get(i + 1) == Some(&b':')
                        && let Some(end) = s[i + 2..].find(":]")
                    {
                        self.out.push_str(&s[i..i + 2 + end + 2]);
                        i += 2 + end + 2;
                        continue;
                    }
                    depth += 1;
                    self.out.push('[');
                    i += 1;
                    if b.get(i) == Some(&b'^') {
                        self.out.push('^');
                        i += 1;
                    }
                    // A `]` right after `[` or `[^` is a literal.
                    if b.get(i) == Some(&b']') {
                        self.out.push_str("\\]");
                        i += 1;
                    }
                    continue;
                }
                b']' => {
                    self.out.push(']');
                    i += 1;
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return i;
                    }
                    continue;
                }
                _ => {}
            }
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            self.out.push(ch);
            i += ch.len_utf8().max(1);
        }
        i
    }

    /// Handles a group opening at `i`.
    fn group(&mut self, s: &str, i: usize) -> Result<usize, GrokError> {
        let rest = &s[i..];
        if !rest.starts_with("(?") {
            self.out.push_str("(?:");
            return Ok(i + 1);
        }
        let after = &rest[2..];
        // Named capture: (?<name>, (?P<name>, (?'name'.
        let named = if let Some(r) = after.strip_prefix("P<") {
            Some((r, '>', 4))
        } else if let Some(r) = after.strip_prefix('<') {
            (!r.starts_with('=') && !r.starts_with('!')).then_some((r, '>', 3))
        } else {
            after.strip_prefix('\'').map(|r| (r, '\'', 3))
        };
        if let Some((r, close, skip)) = named
            && let Some(end) = r.find(close)
        {
            let field = &r[..end];
            self.open_capture(field, CaptureKind::String);
            return Ok(i + skip + end + 1);
        }
        if let Some(r) = after.strip_prefix('#') {
            let end = r.find(')').map_or(s.len(), |e| i + 3 + e + 1);
            return Ok(end);
        }
        // Flags: (?imx-imx) or (?imx-imx: … ; Ruby's `m` is our `s`.
        let flags: String = after
            .chars()
            .take_while(|c| matches!(c, 'i' | 'm' | 'x' | '-'))
            .collect();
        if !flags.is_empty() && matches!(after[flags.len()..].chars().next(), Some(')' | ':')) {
            self.out.push_str("(?");
            self.out.push_str(&flags.replace('m', "s"));
            return Ok(i + 2 + flags.len());
        }
        self.out.push_str("(?");
        Ok(i + 2)
    }

    /// Expands the `%{…}` reference at `i`; returns the index after it.
    fn reference(&mut self, s: &str, i: usize) -> Result<usize, GrokError> {
        let Some(len) = s[i + 2..].find('}') else {
            // An unterminated `%{` is literal text.
            self.out.push_str("%\\{");
            return Ok(i + 2);
        };
        let inner = &s[i + 2..i + 2 + len];
        let (head, inline_def) = match inner.split_once('=') {
            Some((h, d)) => (h, Some(d)),
            None => (inner, None),
        };
        let (name, sub) = match head.split_once(':') {
            Some((n, f)) => (n, Some(f)),
            None => (head, None),
        };
        // Only `%{NAME…}` with a pattern-like name is a reference; anything else is literal.
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.out.push_str("%\\{");
            return Ok(i + 2);
        }
        let (field, kind) = match sub {
            None => (None, CaptureKind::String),
            Some(f) => match f.split_once(':') {
                None => (Some(f), CaptureKind::String),
                Some((f, t)) => (Some(f), self.kind(name, t)?),
            },
        };
        let body = match inline_def {
            Some(d) => d.to_string(),
            None => self
                .defs
                .get(name)
                .cloned()
                .ok_or_else(|| GrokError::unknown(self.top, name, self.defs.keys()))?,
        };
        if self.stack.iter().any(|n| n == name) {
            let mut chain = self.stack.clone();
            chain.push(name.to_string());
            return Err(GrokError::Recursive {
                pattern: self.top.to_string(),
                chain: chain.join(" -> "),
            });
        }
        match field {
            Some(field) if !field.is_empty() => {
                self.open_capture(field, kind);
            }
            _ => self.out.push_str("(?:"),
        }
        self.stack.push(name.to_string());
        self.text(&body)?;
        self.stack.pop();
        self.out.push(')');
        Ok(i + 2 + len + 1)
    }

    fn kind(&self, name: &str, t: &str) -> Result<CaptureKind, GrokError> {
        match t {
            "int" => Ok(CaptureKind::Int),
            "float" => Ok(CaptureKind::Float),
            "string" => Ok(CaptureKind::String),
            other => Err(GrokError::UnknownType {
                pattern: self.top.to_string(),
                name: name.to_string(),
                kind: other.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn references_expand_recursively_and_named_ones_capture() {
        let d = defs(&[("A", "a+"), ("B", "%{A}-%{A:x:int}")]);
        let e = expand("^%{B:whole} %{A}$", &d).unwrap();
        assert_eq!(e.regex, "^(?<g0>(?:a+)-(?<g1>a+)) (?:a+)$");
        assert_eq!(e.captures[0].field, "whole");
        assert_eq!(e.captures[1].field, "x");
        assert_eq!(e.captures[1].kind, CaptureKind::Int);
    }

    #[test]
    fn named_groups_in_definitions_capture_and_plain_groups_do_not() {
        let d = defs(&[("P", r"(?<[process][name]>[\w.]+)(\[\d+\])?")]);
        let e = expand("%{P}", &d).unwrap();
        assert_eq!(e.regex, r"(?:(?<g0>[0-9A-Za-z_.]+)(?:\[[0-9]+\])?)");
        assert_eq!(e.captures[0].field, "[process][name]");
    }

    #[test]
    fn ruby_dialect_is_translated() {
        let e = expand(r"(?m)\h\b(?#note)[^\s]%", &BTreeMap::new()).unwrap();
        assert_eq!(e.regex, r"(?s)[0-9a-fA-F]\b[^\t\n\x0B\x0C\r ]%");
        // lookarounds are left for the engine to decide
        let e = expand(r"(?<![0-9])x(?!y)(?>z)", &BTreeMap::new()).unwrap();
        assert_eq!(e.regex, r"(?<![0-9])x(?!y)(?>z)");
    }

    #[test]
    fn inline_definitions_and_errors() {
        let e = expand(r"%{FOO:f=\d+}", &BTreeMap::new()).unwrap();
        assert_eq!(e.regex, r"(?<g0>[0-9]+)");
        let d = defs(&[("WORD", "w"), ("LOOP", "%{LOOP2}"), ("LOOP2", "%{LOOP}")]);
        let err = expand("%{WROD}", &d).unwrap_err().to_string();
        assert!(
            err.contains("WROD") && err.contains("did you mean `WORD`"),
            "{err}"
        );
        let err = expand("%{LOOP}", &d).unwrap_err().to_string();
        assert!(err.contains("LOOP -> LOOP2 -> LOOP"), "{err}");
        let e = expand(r#"%{"a":1}"#, &d).unwrap();
        assert_eq!(e.regex, r#"%\{"a":1\}"#);
        let err = expand("%{WORD:x:bool}", &d).unwrap_err().to_string();
        assert!(err.contains("bool"), "{err}");
    }
}
