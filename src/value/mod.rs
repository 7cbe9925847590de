//! The event's value type: JSON, laid out for the hot path.
//!
//! [`Value`] is the JSON data model of `serde_json::Value` (null, booleans, numbers as
//! `serde_json::Number`, strings, arrays, objects) with two changes that matter when every
//! line becomes an object of a dozen or two fields:
//!
//! - strings and keys are [`Str`] (`compact_str`): up to 24 bytes live inline, without an
//!   allocation (field names, IPs, methods, status codes, levels);
//! - objects are a [`Map`]: one vector of fields in insertion order, searched linearly,
//!   instead of a B-tree of separately allocated nodes.
//!
//! Documents are therefore written with their fields in the order they were added (the
//! shipper's fields, then what the steps added), not sorted. Conversions to and from
//! `serde_json::Value` ([`From`]) and serde's traits connect it to everything else;
//! [`value!`](crate::value!) builds one from `serde_json::json!` syntax.

use std::fmt;

pub use serde_json::Number;

pub mod binary;
mod map;
mod serde_impl;

pub use map::{IntoIter, Iter, IterMut, Key, Map};

/// A string or key: inline up to 24 bytes, on the heap beyond.
pub type Str = compact_str::CompactString;

/// A JSON value (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json holds it.
    Number(Number),
    /// A string.
    String(Str),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map),
}

/// The null returned by indexing a missing key.
pub(crate) static NULL: Value = Value::Null;

/// Builds a [`Value`](crate::value::Value) with `serde_json::json!`'s syntax.
#[macro_export]
macro_rules! value {
    ($($json:tt)+) => {
        $crate::value::Value::from($crate::value::__serde_json::json!($($json)+))
    };
}

#[doc(hidden)]
pub use serde_json as __serde_json;

impl Value {
    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// True for a boolean.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }
    /// True for a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }
    /// True for a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }
    /// True for an array.
    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }
    /// True for an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    /// True for an integer that fits an `i64`.
    pub fn is_i64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_i64())
    }
    /// True for an integer that fits a `u64`.
    pub fn is_u64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_u64())
    }
    /// True for a number held as a float.
    pub fn is_f64(&self) -> bool {
        matches!(self, Value::Number(n) if n.is_f64())
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    /// The number as an `i64`, if it is an integer in range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }
    /// The number as a `u64`, if it is a non-negative integer in range.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }
    /// The number as an `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }
    /// The array, if this is one.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The array, mutably, if this is one.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// The object, mutably, if this is one.
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    /// The value of `key` if this is an object holding it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }
    /// Takes the value out, leaving null.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// Compact JSON text, as serde_json writes it (keys in the map's order).
    pub fn to_json_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        crate::json::write_value(self, &mut out);
        out
    }
}

impl fmt::Display for Value {
    /// Compact JSON (`{:#}`: indented), as `serde_json::Value` displays.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_vec_pretty(self).map_err(|_| fmt::Error)?
        } else {
            self.to_json_bytes()
        };
        f.write_str(&String::from_utf8_lossy(&text))
    }
}

impl std::ops::Index<&str> for Value {
    type Output = Value;
    /// The value of `key` in an object; null otherwise (never panics).
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or(&NULL)
    }
}

impl std::ops::Index<usize> for Value {
    type Output = Value;
    /// Element `i` of an array; null otherwise (never panics).
    fn index(&self, i: usize) -> &Value {
        self.as_array().and_then(|a| a.get(i)).unwrap_or(&NULL)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Str::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(Str::from(s))
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::String(Str::from(s.as_str()))
    }
}
impl From<Str> for Value {
    fn from(s: Str) -> Value {
        Value::String(s)
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}
impl From<f64> for Value {
    /// A finite float; NaN and infinities become null (as in serde_json).
    fn from(f: f64) -> Value {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
impl From<f32> for Value {
    fn from(f: f32) -> Value {
        Value::from(f64::from(f))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Number::from(n))
            }
        }
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                matches!(self, Value::Number(n) if *n == Number::from(*other))
            }
        }
    )*};
}
from_integer!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}
impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}
impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}
impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}
impl PartialEq<f64> for Value {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}

impl PartialEq<serde_json::Value> for Value {
    /// Structural equality with a serde_json value (objects compared as maps).
    fn eq(&self, other: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (self, other) {
            (Value::Null, J::Null) => true,
            (Value::Bool(a), J::Bool(b)) => a == b,
            (Value::Number(a), J::Number(b)) => a == b,
            (Value::String(a), J::String(b)) => a.as_str() == b.as_str(),
            (Value::Array(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
            }
            (Value::Object(a), J::Object(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| b.get(k.as_str()).is_some_and(|w| v == w))
            }
            _ => false,
        }
    }
}

impl PartialEq<Value> for serde_json::Value {
    fn eq(&self, other: &Value) -> bool {
        other == self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_kept_whole() {
        let short = Value::from("192.168.100.200");
        let long = Value::from("x".repeat(100));
        assert!(
            !short
                .as_str()
                .map(Str::from)
                .is_some_and(|s| s.is_heap_allocated())
        );
        assert_eq!(long.as_str().map(str::len), Some(100));
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn compares_with_serde_json_values() {
        let v = crate::value!({"a": [1, "x", null, true, 1.5], "b": {"c": -2}});
        assert_eq!(
            v,
            serde_json::json!({"b": {"c": -2}, "a": [1, "x", null, true, 1.5]})
        );
        assert_ne!(
            v,
            serde_json::json!({"b": {"c": -2}, "a": [1, "x", null, true]})
        );
        assert_ne!(
            v,
            serde_json::json!({"b": {"c": "-2"}, "a": [1, "x", null, true, 1.5]})
        );
        assert_eq!(v["b"]["c"], -2);
        assert_eq!(v["a"][1], "x");
        assert!(v["nope"]["deeper"].is_null());
    }
}
