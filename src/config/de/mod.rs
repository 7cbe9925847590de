//! A serde `Deserializer` over the positioned node tree that collects errors instead of
//! stopping at the first one.
//!
//! serde's derived code aborts on the first error; a user fixing a pipeline file wants them
//! all. So this deserializer reports what it can itself and carries on:
//!
//! - unknown keys: `deserialize_struct` receives the struct's field names, so unknown keys are
//!   reported (with a "did you mean") and skipped — the struct never sees them;
//! - wrong scalar types (`workers: two`) and wrong shapes (a list where a mapping is expected):
//!   reported, and a neutral value (0, empty list, empty mapping) is handed to serde instead;
//! - unknown enum values: reported with the accepted values, and the first one is used.
//!
//! Only what serde itself decides (a missing required field) aborts, and only the enclosing
//! value; it is reported with the position of the mapping that lacks the field. Raw structs
//! keep fields optional where they can, so that happens rarely.

mod access;

use super::error::{ConfigError, Location, did_you_mean};
use super::yaml::{Node, NodeKind, join};
use access::{Enum, Map, Seq};
use serde::de::{self, Visitor};
use std::cell::RefCell;
use std::fmt;
use std::path::Path;

/// Where errors go while deserializing one file.
pub struct Ctx<'a> {
    /// The file being read.
    pub file: &'a Path,
    errors: RefCell<Vec<ConfigError>>,
}

impl<'a> Ctx<'a> {
    /// A context for `file`.
    pub fn new(file: &'a Path) -> Self {
        Ctx {
            file,
            errors: RefCell::new(Vec::new()),
        }
    }

    /// Records an error, unless one was already recorded at the same position (a value that
    /// failed to deserialize is not reported again by the checks that follow).
    pub fn push(&self, e: ConfigError) {
        let mut errors = self.errors.borrow_mut();
        if let Some(at) = e.location()
            && errors.iter().any(|x| x.location() == Some(at))
        {
            return;
        }
        errors.push(e);
    }

    /// The position of `node`.
    pub fn at(&self, node: &Node) -> Location {
        node.location(self.file)
    }

    /// Number of errors so far.
    pub fn error_count(&self) -> usize {
        self.errors.borrow().len()
    }

    /// The errors collected.
    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors.into_inner()
    }

    /// Records "expected `expected`, found …" for `node`.
    pub fn wrong_type(&self, node: &Node, path: &str, expected: &str) {
        self.push(ConfigError::WrongType {
            at: self.at(node),
            path: display_path(path),
            expected: expected.to_string(),
            found: node.describe(),
        });
    }

    /// Records an invalid value at `node`.
    pub fn invalid(&self, node: &Node, path: &str, message: String, expected: &str) {
        self.push(ConfigError::InvalidValue {
            at: self.at(node),
            path: display_path(path),
            message,
            expected: expected.to_string(),
        });
    }
}

pub(super) fn display_path(path: &str) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.to_string()
    }
}

/// Deserializes `node` (at YAML `path`) into `T`, recording every problem in `ctx`. Returns
/// `None` only when serde had to give up on the value (a missing required key, …), which is
/// then recorded too.
pub fn from_node<T: de::DeserializeOwned>(node: &Node, path: &str, ctx: &Ctx<'_>) -> Option<T> {
    match T::deserialize(De { node, path, ctx }) {
        Ok(v) => Some(v),
        Err(e) => {
            let (at, path) = e.at.unwrap_or_else(|| (ctx.at(node), display_path(path)));
            ctx.push(match e.kind {
                ErrKind::Missing(key) => ConfigError::MissingKey {
                    at,
                    path,
                    key,
                    expected: "see docs/configuration.md".into(),
                },
                ErrKind::Other(message) => ConfigError::InvalidValue {
                    at,
                    path,
                    message,
                    expected: "see docs/configuration.md".into(),
                },
            });
            None
        }
    }
}

/// An error serde raised; located by the innermost node that saw it.
#[derive(Debug)]
pub struct DeError {
    pub(super) kind: ErrKind,
    pub(super) at: Option<(Location, String)>,
}

#[derive(Debug)]
pub(super) enum ErrKind {
    Missing(String),
    Other(String),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrKind::Missing(k) => write!(f, "missing key `{k}`"),
            ErrKind::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            kind: ErrKind::Other(msg.to_string()),
            at: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        DeError {
            kind: ErrKind::Missing(field.to_string()),
            at: None,
        }
    }
}

pub(super) struct De<'a, 'p> {
    pub(super) node: &'a Node,
    pub(super) path: &'p str,
    pub(super) ctx: &'a Ctx<'a>,
}

impl<'a> De<'a, '_> {
    fn locate(&self, e: DeError) -> DeError {
        if e.at.is_some() {
            e
        } else {
            DeError {
                at: Some((self.ctx.at(self.node), display_path(self.path))),
                ..e
            }
        }
    }

    fn scalar(&self) -> Option<&'a str> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn parse<T: std::str::FromStr + Default>(&self, expected: &str) -> T {
        match self.scalar().map(|s| s.replace('_', "").parse::<T>()) {
            Some(Ok(v)) => v,
            _ => {
                self.ctx.wrong_type(self.node, self.path, expected);
                T::default()
            }
        }
    }
}

macro_rules! number {
    ($($method:ident => $visit:ident : $ty:ty, $expected:expr;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let v: $ty = self.parse($expected);
            visitor.$visit(v).map_err(|e| self.locate(e))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for De<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Scalar { .. } if self.node.is_null() => visitor.visit_unit(),
            NodeKind::Scalar { value, plain: true } => {
                if let Ok(i) = value.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(u) = value.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if value.parse::<f64>().is_ok()
                    && value.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
                {
                    visitor.visit_f64(value.parse().unwrap_or_default())
                } else if let Ok(b) = value.to_ascii_lowercase().parse::<bool>() {
                    visitor.visit_bool(b)
                } else {
                    visitor.visit_str(value)
                }
            }
            NodeKind::Scalar { value, .. } => visitor.visit_str(value),
            NodeKind::Seq(items) => visitor.visit_seq(Seq::new(items, self.path, self.ctx)),
            NodeKind::Map(entries) => {
                visitor.visit_map(Map::new(entries, None, self.path, self.ctx))
            }
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let b = match self.scalar().map(str::to_ascii_lowercase).as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => {
                self.ctx
                    .wrong_type(self.node, self.path, "a boolean (true or false)");
                false
            }
        };
        visitor.visit_bool(b).map_err(|e| self.locate(e))
    }

    number! {
        deserialize_i8 => visit_i8: i8, "an integer";
        deserialize_i16 => visit_i16: i16, "an integer";
        deserialize_i32 => visit_i32: i32, "an integer";
        deserialize_i64 => visit_i64: i64, "an integer";
        deserialize_u8 => visit_u8: u8, "a non-negative integer";
        deserialize_u16 => visit_u16: u16, "a non-negative integer";
        deserialize_u32 => visit_u32: u32, "a non-negative integer";
        deserialize_u64 => visit_u64: u64, "a non-negative integer";
        deserialize_f32 => visit_f32: f32, "a number";
        deserialize_f64 => visit_f64: f64, "a number";
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let s = match self.scalar() {
            Some(s) if !self.node.is_null() => s,
            _ => {
                self.ctx.wrong_type(self.node, self.path, "a string");
                ""
            }
        };
        visitor.visit_str(s).map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.node.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let is_empty_map = matches!(&self.node.kind, NodeKind::Map(m) if m.is_empty());
        if !self.node.is_null() && !is_empty_map {
            self.ctx
                .wrong_type(self.node, self.path, "nothing (null or {})");
        }
        visitor.visit_unit().map_err(|e| self.locate(e))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let items: &[Node] = match &self.node.kind {
            NodeKind::Seq(items) => items,
            _ if self.node.is_null() => &[],
            _ => {
                self.ctx.wrong_type(self.node, self.path, "a list");
                &[]
            }
        };
        visitor
            .visit_seq(Seq::new(items, self.path, self.ctx))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let entries: &[(Node, Node)] = match &self.node.kind {
            NodeKind::Map(entries) => entries,
            _ if self.node.is_null() => &[],
            _ => {
                self.ctx.wrong_type(self.node, self.path, "a mapping");
                &[]
            }
        };
        visitor
            .visit_map(Map::new(entries, None, self.path, self.ctx))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries: &[(Node, Node)] = match &self.node.kind {
            NodeKind::Map(entries) => entries,
            _ if self.node.is_null() => &[],
            _ => {
                self.ctx.wrong_type(self.node, self.path, "a mapping");
                &[]
            }
        };
        visitor
            .visit_map(Map::new(entries, Some(fields), self.path, self.ctx))
            .map_err(|e| self.locate(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let expected = format!("one of {}", variants.join(", "));
        let r = match &self.node.kind {
            NodeKind::Scalar { value, .. } => {
                let name = if variants.contains(&value.as_str()) {
                    value.as_str()
                } else {
                    let hint = did_you_mean(value, variants.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    self.ctx.invalid(
                        self.node,
                        self.path,
                        format!("unknown value `{value}`{hint}"),
                        &expected,
                    );
                    variants.first().copied().unwrap_or_default()
                };
                visitor.visit_enum(Enum {
                    name,
                    value: None,
                    path: self.path.to_string(),
                    ctx: self.ctx,
                })
            }
            NodeKind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                let name = key.as_str().unwrap_or_default();
                if !variants.contains(&name) {
                    let hint = did_you_mean(name, variants.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    return Err(DeError {
                        kind: ErrKind::Other(format!(
                            "unknown value `{name}`{hint}; expected {expected}"
                        )),
                        at: Some((self.ctx.at(key), display_path(self.path))),
                    });
                }
                visitor.visit_enum(Enum {
                    name,
                    value: Some(value),
                    path: join(self.path, name),
                    ctx: self.ctx,
                })
            }
            _ => {
                return Err(DeError {
                    kind: ErrKind::Other(format!(
                        "expected {expected} (or a mapping with one of them as its only key), found {}",
                        self.node.describe()
                    )),
                    at: Some((self.ctx.at(self.node), display_path(self.path))),
                });
            }
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Inner {
        workers: u32,
        mode: Mode,
    }

    #[derive(Debug, Deserialize, Default, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        #[default]
        Block,
        DropOldest,
    }

    #[derive(Debug, Deserialize, Default)]
    #[serde(deny_unknown_fields, default)]
    struct Outer {
        name: Option<String>,
        inner: Inner,
        list: Vec<String>,
    }

    fn load(text: &str) -> (Option<Outer>, Vec<ConfigError>) {
        let file = Path::new("f.yaml");
        let mut errors = Vec::new();
        let node = parse(file, text, &|_| None, &mut errors).unwrap();
        let ctx = Ctx::new(file);
        let out = from_node::<Outer>(&node, "", &ctx);
        errors.extend(ctx.into_errors());
        (out, errors)
    }

    #[test]
    fn all_errors_are_collected_with_positions() {
        let (out, errors) = load(
            "name: x\nnmae: y\ninner:\n  workers: two\n  mode: drop_oldset\n  extra: 1\nlist: 3\n",
        );
        assert!(out.is_some());
        let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 5, "{text:#?}");
        assert!(
            text[0]
                .starts_with("f.yaml:2:1: (top level): unknown key `nmae` (did you mean `name`?)")
        );
        assert!(text[1].starts_with(
            "f.yaml:4:12: inner.workers: expected a non-negative integer, found string `two`"
        ));
        assert!(text[2].contains(
            "f.yaml:5:9: inner.mode: unknown value `drop_oldset` (did you mean `drop_oldest`?)"
        ));
        assert!(text[3].starts_with("f.yaml:6:3: inner: unknown key `extra`"));
        assert!(text[4].starts_with("f.yaml:7:7: list: expected a list, found number `3`"));
    }

    #[test]
    fn good_input_deserializes() {
        let (out, errors) = load("inner: { workers: 3, mode: drop_oldest }\nlist: [a, 'b']\n");
        assert!(errors.is_empty(), "{errors:?}");
        let out = out.unwrap();
        assert_eq!(out.inner.workers, 3);
        assert_eq!(out.inner.mode, Mode::DropOldest);
        assert_eq!(out.list, vec!["a", "b"]);
    }
}
