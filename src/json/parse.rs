//! JSON objects parsed straight into [`Value`]s, for the hot path: a log record's
//! value becoming an [`Event`](crate::event::Event).
//!
//! `serde_json::from_slice::<Value>` goes through serde's visitors and copies every escaped
//! string twice (into a scratch buffer, then into the `String`); on a shipper record (an
//! Apache line with escaped quotes plus its metadata) that was about 780 ns, of which building
//! the same values by hand takes about 300 and scanning the text about 150. This parser builds
//! the values directly and scans strings 16 bytes at a time (the writer's SSE2 scan).
//!
//! The contract is equality with serde_json: whenever [`parse_object`] returns a map, it is
//! the map `serde_json::from_slice` returns for the same bytes (a differential property test
//! checks it). Whatever it does not take (invalid JSON, lone surrogates, nesting deeper than
//! [`MAX_DEPTH`]) gives `None`, and the caller asks serde_json, which decides. Numbers other
//! than plain integers of up to 18 digits are read by serde_json itself.

use crate::value::{Map, Number, Str, Value};

/// Deepest nesting parsed here (serde_json's own limit is 128; deeper input goes to it).
pub const MAX_DEPTH: usize = 100;

/// Parses `input`, one JSON object with optional surrounding whitespace, into its map. `None`
/// when the input is not that or takes a form left to serde_json (see the module doc).
pub fn parse_object(input: &[u8]) -> Option<Map> {
    let mut p = Parser {
        s: input,
        i: 0,
        scratch: Vec::new(),
    };
    p.ws();
    if p.peek()? != b'{' {
        return None;
    }
    let map = p.object(0)?;
    p.ws();
    (p.i == input.len()).then_some(map)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Where escaped strings are unescaped.
    scratch: Vec<u8>,
}

impl Parser<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// Expects `b` (after whitespace) and steps over it.
    #[inline]
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek()? == b).then(|| self.i += 1)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string().map(Value::String)
            }
            b'{' => self.object(depth).map(Value::Object),
            b'[' => self.array(depth),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            _ => None,
        }
    }

    /// At `{`.
    fn object(&mut self, depth: usize) -> Option<Map> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(Map::new());
        }
        // Room for an event's own fields and what the steps typically add at the top level;
        // one allocation per object either way.
        let mut map = Map::with_capacity(if depth == 0 { 24 } else { 4 });
        loop {
            self.eat(b'"')?;
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            let value = self.value(depth + 1)?;
            map.push_unique(key, value);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    // A repeated key keeps its first place and last value, as in serde_json.
                    map.resolve_repeats();
                    return Some(map);
                }
                _ => return None,
            }
        }
    }

    /// At `[`.
    fn array(&mut self, depth: usize) -> Option<Value> {
        if depth >= MAX_DEPTH {
            return None;
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                _ => return None,
            }
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Option<Value> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            Some(value)
        } else {
            None
        }
    }

    /// At `-` or a digit. Plain integers (no leading zero, at most 18 digits, not `-0`) are
    /// read here, as serde_json stores them (`u64` when positive, `i64` when negative); any
    /// other number is handed to serde_json whole.
    fn number(&mut self) -> Option<Value> {
        let s = self.s;
        let start = self.i;
        let negative = s[start] == b'-';
        let digits = start + usize::from(negative);
        let mut j = digits;
        let mut n: u64 = 0;
        while j < s.len() && s[j].is_ascii_digit() && j - digits < 18 {
            n = n * 10 + u64::from(s[j] - b'0');
            j += 1;
        }
        let count = j - digits;
        let plain = count > 0
            && (count == 1 || s[digits] != b'0')
            && !matches!(s.get(j), Some(b'0'..=b'9' | b'.' | b'e' | b'E'))
            && !(negative && n == 0);
        if plain {
            self.i = j;
            // n < 10^18, so the negation fits in an i64.
            return Some(Value::Number(if negative {
                Number::from(-(n as i64))
            } else {
                Number::from(n)
            }));
        }
        while j < s.len() && matches!(s[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
            j += 1;
        }
        let number: Number = serde_json::from_slice(&s[start..j]).ok()?;
        self.i = j;
        Some(Value::Number(number))
    }

    /// After the opening quote: the string up to the closing one, unescaped.
    fn string(&mut self) -> Option<Str> {
        let s = self.s;
        let start = self.i;
        let end = find_special(s, start);
        match s.get(end)? {
            b'"' => {
                self.i = end + 1;
                Some(Str::from(std::str::from_utf8(&s[start..end]).ok()?))
            }
            b'\\' => {
                self.scratch.clear();
                self.scratch.extend_from_slice(&s[start..end]);
                self.i = end;
                self.escaped()
            }
            _ => None, // a control character: not allowed unescaped
        }
    }

    /// The rest of a string with escapes, from the first backslash, via `scratch`.
    fn escaped(&mut self) -> Option<Str> {
        let s = self.s;
        loop {
            match s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(Str::from(std::str::from_utf8(&self.scratch).ok()?));
                }
                b'\\' => {
                    let c = match s.get(self.i + 1)? {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => 0,
                        _ => return None,
                    };
                    if c == 0 {
                        let ch = self.unicode_escape()?;
                        let mut buf = [0u8; 4];
                        self.scratch
                            .extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    } else {
                        self.scratch.push(c);
                        self.i += 2;
                    }
                }
                _ => return None, // a control character
            }
            let next = find_special(s, self.i);
            self.scratch.extend_from_slice(s.get(self.i..next)?);
            self.i = next;
        }
    }

    /// At `\u`: the character of the escape (a surrogate pair takes two). Lone surrogates,
    /// which serde_json refuses, give `None`.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = hex4(self.s, self.i + 2)?;
        self.i += 6;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2)? != b"\\u" {
                    return None;
                }
                let low = hex4(self.s, self.i + 2)?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                self.i += 6;
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            c => c,
        };
        char::from_u32(code)
    }
}

/// The four hex digits at `s[i..]`.
fn hex4(s: &[u8], i: usize) -> Option<u32> {
    let digits = s.get(i..i + 4)?;
    let mut v = 0u32;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

/// The position of the first `"`, backslash or control character at or after `i` (`s.len()`
/// if none), 16 bytes at a time.
#[inline]
fn find_special(s: &[u8], mut i: usize) -> usize {
    while i + 16 <= s.len() {
        let (mask, _) = super::scan16(s, i);
        if mask != 0 {
            return i + mask.trailing_zeros() as usize;
        }
        i += 16;
    }
    while i < s.len() && !super::needs_escape(s[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests;
