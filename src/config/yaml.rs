//! A YAML document as a tree of nodes that each know their line and column.
//!
//! Built from the event stream of `granit-parser` (the parser under `serde-saphyr`, re-exported
//! by it): every scalar, sequence and mapping event carries a span, so every node — and every
//! error about it — has a position. `${VAR}` / `${VAR:-default}` references in scalar values are
//! replaced here, after parsing, so a variable can never inject YAML structure and an unset one
//! is reported at the value that uses it.

use super::error::{ConfigError, Location};
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// A node and its position (1-based line and column).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Line of the node's first character.
    pub line: usize,
    /// Column of the node's first character.
    pub column: usize,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text and whether it was written plain (unquoted), in which case it may be
    /// read as a number, boolean or null.
    Scalar {
        /// The text after escape processing and variable substitution.
        value: String,
        /// True if written without quotes or block style.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order (keys are scalar nodes).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, plain: true }
            if value.is_empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }

    /// The scalar's text, if a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The mapping's entries, if a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// A short description of the node's type for "expected X, found Y".
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "null".into(),
            NodeKind::Scalar { value, plain } => {
                let shown: String = value.chars().take(40).collect();
                if *plain && (value.parse::<f64>().is_ok()) {
                    format!("number `{shown}`")
                } else if *plain && matches!(value.as_str(), "true" | "false") {
                    format!("boolean `{shown}`")
                } else {
                    format!("string `{shown}`")
                }
            }
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
        }
    }

    /// The node's location in `file`.
    pub fn location(&self, file: &Path) -> Location {
        Location {
            file: file.to_path_buf(),
            line: self.line,
            column: self.column,
        }
    }
}

/// Joins a YAML path and a key: `cleaner` + `steps` → `cleaner.steps`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Joins a YAML path and a list index: `cleaner.steps` + 0 → `cleaner.steps[0]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Parses `text` (the content of `file`) into a node tree, substituting `${VAR}` references
/// through `env`. Returns `None` for an empty document. Problems other than syntax errors
/// (unset variables, duplicate keys, several documents) are pushed to `errors` and the tree is
/// still returned.
pub fn parse(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<Node> {
    let mut b = Builder {
        file,
        env,
        errors,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        documents: 0,
        alias_nodes: 0,
    };
    for item in Parser::new_from_str(text) {
        match item {
            Ok((event, span)) => {
                let line = span.start.line();
                let column = span.start.col() + 1;
                b.event(event, line, column);
            }
            Err(e) => {
                b.errors.push(ConfigError::Syntax {
                    at: Location {
                        file: file.to_path_buf(),
                        line: e.marker().line(),
                        column: e.marker().col() + 1,
                    },
                    message: e.info(),
                });
                return None;
            }
        }
    }
    b.root
}

enum Frame {
    Seq(Node),
    /// A mapping under construction and the key waiting for its value.
    Map(Node, Option<Node>),
}

struct Builder<'a> {
    file: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: &'a mut Vec<ConfigError>,
    stack: Vec<(Frame, usize)>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    /// Nodes copied so far by resolving aliases (bounded: "billion laughs").
    alias_nodes: usize,
}

/// Most nodes aliases may copy in one file.
const MAX_ALIAS_NODES: usize = 100_000;

fn node_count(n: &Node) -> usize {
    1 + match &n.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => items.iter().map(node_count).sum(),
        NodeKind::Map(entries) => entries
            .iter()
            .map(|(k, v)| node_count(k) + node_count(v))
            .sum(),
    }
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, line: usize, column: usize) {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents == 2 {
                    self.errors.push(ConfigError::InvalidValue {
                        at: Location {
                            file: self.file.to_path_buf(),
                            line,
                            column,
                        },
                        path: "(document)".into(),
                        message: "a second YAML document in the same file".into(),
                        expected: "one pipeline per file".into(),
                    });
                }
            }
            Event::Scalar(value, style, anchor, tag) => {
                let plain = matches!(style, ScalarStyle::Plain)
                    && tag.as_ref().is_none_or(|t| t.suffix() != "str");
                let is_key = matches!(self.stack.last(), Some((Frame::Map(_, None), _)));
                let value = if is_key {
                    value.into_owned()
                } else {
                    self.substitute(&value, line, column)
                };
                let node = Node {
                    kind: NodeKind::Scalar { value, plain },
                    line,
                    column,
                };
                self.finish(node, anchor);
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push((
                Frame::Seq(Node {
                    kind: NodeKind::Seq(Vec::new()),
                    line,
                    column,
                }),
                anchor,
            )),
            Event::MappingStart(_, anchor, _) => self.stack.push((
                Frame::Map(
                    Node {
                        kind: NodeKind::Map(Vec::new()),
                        line,
                        column,
                    },
                    None,
                ),
                anchor,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((frame, anchor)) = self.stack.pop() {
                    let node = match frame {
                        Frame::Seq(n) | Frame::Map(n, _) => n,
                    };
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => {
                let size = self.anchors.get(&id).map_or(0, node_count);
                self.alias_nodes += size;
                let node = if self.alias_nodes > MAX_ALIAS_NODES {
                    if self.alias_nodes - size <= MAX_ALIAS_NODES {
                        let path = self.current_path();
                        self.errors.push(ConfigError::InvalidValue {
                            at: Location {
                                file: self.file.to_path_buf(),
                                line,
                                column,
                            },
                            path,
                            message: "aliases expand to too many nodes".into(),
                            expected: format!("at most {MAX_ALIAS_NODES} nodes copied by aliases"),
                        });
                    }
                    None
                } else {
                    self.anchors.get(&id).cloned()
                };
                let mut node = node.unwrap_or(Node {
                    kind: NodeKind::Scalar {
                        value: String::new(),
                        plain: true,
                    },
                    line,
                    column,
                });
                node.line = line;
                node.column = column;
                self.finish(node, 0);
            }
            _ => {}
        }
    }

    /// Attaches a finished node to its parent (or makes it the root).
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let path = self.current_path();
        match self.stack.last_mut() {
            None => {
                if self.documents <= 1 {
                    self.root = Some(node);
                }
            }
            Some((Frame::Seq(seq), _)) => {
                if let NodeKind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some((Frame::Map(map, pending), _)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    if let NodeKind::Map(entries) = &mut map.kind {
                        if let Some((first, _)) = entries
                            .iter()
                            .find(|(k, _)| k.as_str().is_some() && k.as_str() == key.as_str())
                        {
                            self.errors.push(ConfigError::DuplicateKey {
                                at: key.location(self.file),
                                path: if path.is_empty() {
                                    "(top level)".into()
                                } else {
                                    path
                                },
                                key: key.as_str().unwrap_or_default().to_string(),
                                first_line: first.line,
                            });
                        } else if key.as_str().is_none() {
                            self.errors.push(ConfigError::WrongType {
                                at: key.location(self.file),
                                path: if path.is_empty() {
                                    "(top level)".into()
                                } else {
                                    path
                                },
                                expected: "a string key".into(),
                                found: key.describe(),
                            });
                        } else {
                            entries.push((key, node));
                        }
                    }
                }
            },
        }
    }

    /// The YAML path of the node being built (for error messages).
    fn current_path(&self) -> String {
        let mut path = String::new();
        for (frame, _) in &self.stack {
            match frame {
                Frame::Seq(n) => {
                    if let NodeKind::Seq(items) = &n.kind {
                        path = index(&path, items.len());
                    }
                }
                Frame::Map(_, Some(key)) => path = join(&path, key.as_str().unwrap_or("?")),
                Frame::Map(_, None) => {}
            }
        }
        // The innermost frame is the container of the node being finished: its own segment
        // was just added, so drop nothing. For a sequence the index is the item's index.
        path
    }

    fn substitute(&mut self, value: &str, line: usize, column: usize) -> String {
        match substitute(value, self.env) {
            Ok(v) => v.into_owned(),
            Err(var) => {
                let path = self.current_path();
                self.errors.push(ConfigError::UnsetVariable {
                    at: Location {
                        file: self.file.to_path_buf(),
                        line,
                        column,
                    },
                    path,
                    var,
                });
                value.to_string()
            }
        }
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in `s` through `env`; `$${` gives a literal `${`.
/// A `${` not followed by a variable name and `}` is left as written. Returns the name of the
/// first variable that is unset and has no default.
pub fn substitute<'s>(
    s: &'s str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Cow<'s, str>, String> {
    if !s.contains("${") {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        if pos > 0 && rest.as_bytes()[pos - 1] == b'$' {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[pos..]);
            return Ok(Cow::Owned(out));
        };
        let inner = &after[..end];
        let (name, default) = match inner.find(":-") {
            Some(i) => (&inner[..i], Some(&inner[i + 2..])),
            None => (inner, None),
        };
        let valid = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            out.push_str("${");
            rest = after;
            continue;
        }
        match (env(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(name.to_string()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "es1".to_string())
    }

    #[test]
    fn substitution_forms() {
        assert_eq!(
            substitute("http://${HOST}:9200", &env).unwrap(),
            "http://es1:9200"
        );
        assert_eq!(substitute("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(substitute("${NOPE:-}", &env).unwrap(), "");
        assert_eq!(substitute("$${HOST}", &env).unwrap(), "${HOST}");
        assert_eq!(substitute("a ${ b", &env).unwrap(), "a ${ b");
        assert_eq!(substitute("${NOPE}", &env).unwrap_err(), "NOPE");
    }

    #[test]
    fn nodes_have_positions_and_unset_variables_are_reported_where_used() {
        let text = "name: x\nsink:\n  hosts:\n    - ${HOST}\n    - ${MISSING}\n";
        let mut errors = Vec::new();
        let root = parse(Path::new("p.yaml"), text, &env, &mut errors).unwrap();
        let hosts = root.get("sink").unwrap().get("hosts").unwrap();
        let NodeKind::Seq(items) = &hosts.kind else {
            panic!()
        };
        assert_eq!(items[0].as_str(), Some("es1"));
        assert_eq!((items[1].line, items[1].column), (5, 7));
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "p.yaml:5:7: sink.hosts[1]: environment variable `MISSING` is not set \
             (use `${MISSING:-default}` to give a default)"
        );
    }

    #[test]
    fn duplicate_keys_and_syntax_errors() {
        let mut errors = Vec::new();
        parse(
            Path::new("p.yaml"),
            "a: 1\nb:\n  c: 1\n  c: 2\n",
            &env,
            &mut errors,
        );
        assert!(
            matches!(&errors[0], ConfigError::DuplicateKey { at, key, first_line: 3, .. }
            if key == "c" && at.line == 4 && at.column == 3)
        );
        let mut errors = Vec::new();
        assert!(parse(Path::new("p.yaml"), "a: [1, 2\nb: 3\n", &env, &mut errors).is_none());
        assert!(
            matches!(&errors[0], ConfigError::Syntax { .. }),
            "{errors:?}"
        );
    }

    #[test]
    fn every_node_kind_has_a_position() {
        let text = "a:\n  - {k: v, n: [1, 'two']}\n  - |\n    block\nb: &x plain\nc: *x\n";
        let mut errors = Vec::new();
        let root = parse(Path::new("p"), text, &env, &mut errors).unwrap();
        let pos = |n: &Node| (n.line, n.column);
        let entries = root.as_map().unwrap();
        assert_eq!(pos(&entries[0].0), (1, 1), "key");
        let NodeKind::Seq(items) = &entries[0].1.kind else {
            panic!()
        };
        assert_eq!(pos(&entries[0].1), (2, 3), "block sequence");
        assert_eq!(pos(&items[0]), (2, 5), "flow mapping");
        let flow = items[0].as_map().unwrap();
        assert_eq!(pos(&flow[0].0), (2, 6), "flow key");
        assert_eq!(pos(&flow[1].1), (2, 15), "flow sequence");
        let NodeKind::Seq(inner) = &flow[1].1.kind else {
            panic!()
        };
        assert_eq!(pos(&inner[1]), (2, 19), "quoted scalar");
        assert_eq!(items[1].as_str(), Some("block\n"));
        assert_eq!(
            pos(&items[1]),
            (4, 5),
            "block scalar: at its first content line"
        );
        assert_eq!(
            pos(root.get("b").unwrap()),
            (5, 7),
            "anchored scalar: at its value"
        );
        assert_eq!(pos(root.get("c").unwrap()), (6, 4), "alias, at the alias");
        assert!(errors.is_empty());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let mut errors = Vec::new();
        parse(Path::new("p"), &text, &env, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].to_string().contains("too many nodes"));
    }

    #[test]
    fn aliases_resolve() {
        let mut errors = Vec::new();
        let root = parse(Path::new("p"), "a: &x [1]\nb: *x\n", &env, &mut errors).unwrap();
        assert_eq!(root.get("b").unwrap().kind, root.get("a").unwrap().kind);
    }
}
