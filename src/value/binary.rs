//! The binary form of an event's fields: how sluice stores events as record values in the
//! durable log (byte layout in `docs/storage-format.md`, "Event record values").
//!
//! JSON text costs its reader a scan of every string for quotes and escapes, an unescape of
//! every escaped one (each log line's quotes) and a UTF-8 check; this form gives each string's
//! length up front, so reading it back is a bounds check, one UTF-8 check and a copy, and
//! writing it is a copy. Records that are not in this form (JSON written by older versions,
//! anything `sluice produce` put in a topic) are told apart by their first byte, [`MAGIC`],
//! which never starts UTF-8 text.

use thiserror::Error;

use super::{Map, Number, Str, Value};

/// First byte of a binary event record: never the first byte of UTF-8 text (nor of JSON).
pub const MAGIC: u8 = 0xF5;
/// Second byte: the version of the layout.
pub const VERSION: u8 = 1;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const UINT: u8 = 3;
const NEGINT: u8 = 4;
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;

/// Most items reserved up front for one object or array; more grow the vector as they come.
const PREALLOCATE_MAX: usize = 4096;

/// Deepest nesting read back (as the JSON parser's [`crate::json::MAX_DEPTH`]).
const MAX_DEPTH: usize = crate::json::MAX_DEPTH;

/// Why bytes are not a binary event record.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BinaryError {
    /// The first byte is not [`MAGIC`].
    #[error("not a binary event record (first byte is not 0xF5)")]
    NotBinary,
    /// A version this build does not read.
    #[error("binary event record of unknown version {0}")]
    Version(u8),
    /// The bytes end inside a value.
    #[error("binary event record cut short at byte {0}")]
    Truncated(usize),
    /// A byte that names no type.
    #[error("unknown type byte {tag:#04x} at byte {at} of a binary event record")]
    Tag {
        /// The byte.
        tag: u8,
        /// Where it is.
        at: usize,
    },
    /// A string or key that is not UTF-8.
    #[error("string at byte {0} of a binary event record is not UTF-8")]
    Utf8(usize),
    /// A number out of range (a negative integer below `i64::MIN`, a float not finite).
    #[error("bad number at byte {0} of a binary event record")]
    Number(usize),
    /// Nesting deeper than the reader takes.
    #[error("binary event record nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Bytes after the object.
    #[error("{0} bytes after the object of a binary event record")]
    Trailing(usize),
}

/// Appends `map` as a binary event record: [`MAGIC`], [`VERSION`], then the object.
pub fn write_record(map: &Map, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.push(VERSION);
    write_varint(map.len() as u64, out);
    write_fields(map, out);
}

/// Appends the fields of `map` (each key, then its value), without their count: for writers
/// that put the count first themselves.
pub fn write_fields(map: &Map, out: &mut Vec<u8>) {
    for (k, v) in map {
        write_str(k.as_bytes(), out);
        write_value(v, out);
    }
}

/// Appends `value`: its type byte, then its content.
pub fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => {
            out.push(STRING);
            write_str(s.as_bytes(), out);
        }
        Value::Array(items) => {
            out.push(ARRAY);
            write_varint(items.len() as u64, out);
            for v in items {
                write_value(v, out);
            }
        }
        Value::Object(m) => {
            out.push(OBJECT);
            write_varint(m.len() as u64, out);
            write_fields(m, out);
        }
    }
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        out.push(UINT);
        write_varint(u, out);
    } else if let Some(i) = n.as_i64() {
        // Negative here (non-negative ones are u64s): !i is 0 for -1, i64::MAX for i64::MIN.
        out.push(NEGINT);
        write_varint(!i as u64, out);
    } else {
        out.push(FLOAT);
        out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
    }
}

/// Appends a string's length (LEB128) and bytes: a key, or a string value after its type byte.
#[inline]
pub fn write_str(s: &[u8], out: &mut Vec<u8>) {
    write_varint(s.len() as u64, out);
    out.extend_from_slice(s);
}

/// Appends a type byte and a string: a string value.
#[inline]
pub fn write_string_value(s: &[u8], out: &mut Vec<u8>) {
    out.push(STRING);
    write_str(s, out);
}

/// Appends the type byte of an object and its field count (the fields follow).
#[inline]
pub fn write_object_start(fields: usize, out: &mut Vec<u8>) {
    out.push(OBJECT);
    write_varint(fields as u64, out);
}

/// Appends an unsigned integer value (type byte and LEB128).
#[inline]
pub fn write_uint_value(n: u64, out: &mut Vec<u8>) {
    out.push(UINT);
    write_varint(n, out);
}

/// Appends `n` as unsigned LEB128 (7 bits per byte, low first, high bit = more).
#[inline]
pub fn write_varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a binary event record back into its fields.
pub fn read_record(input: &[u8]) -> Result<Map, BinaryError> {
    match input {
        [MAGIC, VERSION, ..] => {}
        [MAGIC, v, ..] => return Err(BinaryError::Version(*v)),
        [MAGIC] => return Err(BinaryError::Truncated(1)),
        _ => return Err(BinaryError::NotBinary),
    }
    let mut r = Reader {
        s: input,
        i: 2,
        error: None,
    };
    let Some(map) = r.object(0) else {
        return Err(r.error.unwrap_or(BinaryError::Truncated(r.i)));
    };
    match input.len() - r.i {
        0 => Ok(map),
        n => Err(BinaryError::Trailing(n)),
    }
}

/// The reader. Its steps return `Option`s, which are no larger than the values they carry
/// (a `Result` with the error would be, and moving it through the stack showed up in
/// `perf`); the first error is kept in `error`.
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
    error: Option<BinaryError>,
}

impl Reader<'_> {
    #[cold]
    fn fail<T>(&mut self, e: BinaryError) -> Option<T> {
        self.error.get_or_insert(e);
        None
    }

    #[inline]
    fn byte(&mut self) -> Option<u8> {
        match self.s.get(self.i) {
            Some(&b) => {
                self.i += 1;
                Some(b)
            }
            None => self.fail(BinaryError::Truncated(self.i)),
        }
    }

    #[inline]
    fn varint(&mut self) -> Option<u64> {
        let at = self.i;
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(n);
            }
        }
        self.fail(BinaryError::Number(at))
    }

    /// A count of items each at least one byte long: never more than the bytes left (so a
    /// damaged count cannot make the reader reserve memory the record cannot fill).
    fn count(&mut self) -> Option<usize> {
        let n = self.varint()?;
        let left = (self.s.len() - self.i) as u64;
        if n > left {
            return self.fail(BinaryError::Truncated(self.s.len()));
        }
        Some(n as usize)
    }

    #[inline(always)]
    fn str(&mut self) -> Option<Str> {
        let len = self.varint()?;
        let start = self.i;
        let Some(end) = usize::try_from(len)
            .ok()
            .and_then(|l| start.checked_add(l))
            .filter(|&e| e <= self.s.len())
        else {
            return self.fail(BinaryError::Truncated(self.s.len()));
        };
        match std::str::from_utf8(&self.s[start..end]) {
            Ok(text) => {
                self.i = end;
                Some(Str::from(text))
            }
            Err(_) => self.fail(BinaryError::Utf8(start)),
        }
    }

    fn object(&mut self, depth: usize) -> Option<Map> {
        if depth >= MAX_DEPTH {
            return self.fail(BinaryError::TooDeep);
        }
        // Each field takes at least two bytes (an empty key and a type byte).
        let n = self.count()?;
        // The top level gets room for what the steps typically add. (Capped: a count is only
        // known to fit the bytes left, and an entry takes 64 bytes in memory for 2 here.)
        let room = if depth == 0 { n + 16 } else { n };
        let mut map = Map::with_capacity(room.min(PREALLOCATE_MAX));
        for _ in 0..n {
            let key = self.str()?;
            let value = self.value(depth + 1)?;
            map.push_unique(key, value);
        }
        // Written by `write_record`, keys are unique; a record from elsewhere may repeat one
        // (the last value wins, in the first one's place, as in JSON).
        map.resolve_repeats();
        Some(map)
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        let at = self.i;
        Some(match self.byte()? {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            UINT => Value::Number(Number::from(self.varint()?)),
            NEGINT => match i64::try_from(self.varint()?) {
                Ok(v) => Value::Number(Number::from(!v)),
                Err(_) => return self.fail(BinaryError::Number(at)),
            },
            FLOAT => {
                let Some(bytes) = self.s.get(self.i..self.i + 8) else {
                    return self.fail(BinaryError::Truncated(self.s.len()));
                };
                let mut b = [0u8; 8];
                b.copy_from_slice(bytes);
                self.i += 8;
                match Number::from_f64(f64::from_le_bytes(b)) {
                    Some(n) => Value::Number(n),
                    None => return self.fail(BinaryError::Number(at)),
                }
            }
            STRING => Value::String(self.str()?),
            ARRAY => {
                if depth >= MAX_DEPTH {
                    return self.fail(BinaryError::TooDeep);
                }
                let n = self.count()?;
                let mut items = Vec::with_capacity(n.min(PREALLOCATE_MAX));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            OBJECT => Value::Object(self.object(depth)?),
            tag => return self.fail(BinaryError::Tag { tag, at }),
        })
    }
}

#[cfg(test)]
mod tests;
