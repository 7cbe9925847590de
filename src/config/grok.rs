//! The `grok` step's YAML mapping onto [`GrokConfig`], and grok errors located at the YAML
//! node at fault (the pattern, the definition, the `patterns_dir` entry).

use super::de::{Ctx, from_node};
use super::plan::EcsMode;
use super::steps::RawOnFailure;
use super::yaml::{Node, NodeKind, index, join};
use crate::cleaner::Step;
use crate::cleaner::grok::{EcsCompatibility, GrokConfig, GrokError, GrokStep};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrokBody {
    #[serde(default = "message")]
    field: String,
    pattern: Option<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    pattern_definitions: BTreeMap<String, String>,
    #[serde(default)]
    patterns_dir: Vec<String>,
    ecs_compatibility: Option<EcsMode>,
    #[serde(default)]
    keep_empty_captures: bool,
    #[serde(default)]
    overwrite: Vec<String>,
    #[serde(default)]
    on_failure: RawOnFailure,
    tag_on_failure: Option<Vec<String>>,
}

fn message() -> String {
    "message".into()
}

/// Builds a `grok` step from its YAML body; `ecs` is the pipeline's
/// `cleaner.ecs_compatibility` (the default of the step's own `ecs_compatibility`).
pub fn grok_step(body: &Node, path: &str, ctx: &Ctx<'_>, ecs: EcsMode) -> Option<Box<dyn Step>> {
    let b: GrokBody = from_node(body, path, ctx)?;
    let mut patterns = b.patterns;
    if let Some(p) = b.pattern {
        patterns.insert(0, p);
    }
    let ecs = match b.ecs_compatibility.unwrap_or(ecs) {
        EcsMode::V1 => EcsCompatibility::V1,
        EcsMode::Disabled => EcsCompatibility::Disabled,
    };
    let config = GrokConfig {
        field: b.field,
        patterns,
        pattern_definitions: b.pattern_definitions,
        patterns_dir: b.patterns_dir.iter().map(PathBuf::from).collect(),
        ecs_compatibility: ecs,
        keep_empty_captures: b.keep_empty_captures,
        overwrite: b.overwrite,
        on_failure: b.on_failure.into(),
        tag_on_failure: b
            .tag_on_failure
            .unwrap_or_else(|| vec!["_grokparsefailure".to_string()]),
    };
    match GrokStep::new(config) {
        Ok(step) => Some(Box::new(step)),
        Err(e) => {
            let (node, p) = locate(body, path, &e);
            let expected = match &e {
                GrokError::UnknownPattern { .. } => {
                    "a pattern name of the library, pattern_definitions or patterns_dir"
                }
                GrokError::UnknownType { .. } => "a capture type: int or float",
                GrokError::PatternsDir { .. } | GrokError::BadDefinition { .. } => {
                    "readable files of `NAME regex` lines"
                }
                GrokError::NoPatterns => "at least one grok pattern",
                _ => "a valid grok pattern",
            };
            ctx.invalid(node, &p, e.to_string(), expected);
            None
        }
    }
}

/// The node a grok error is about: the pattern (in `patterns`/`pattern`) or the definition
/// whose text holds the offending expression, the `patterns_dir` entry, or the body.
fn locate<'n>(body: &'n Node, path: &str, e: &GrokError) -> (&'n Node, String) {
    let expr = match e {
        GrokError::UnknownPattern { pattern, .. }
        | GrokError::UnknownType { pattern, .. }
        | GrokError::Recursive { pattern, .. }
        | GrokError::BadRegex { pattern, .. } => Some(pattern.as_str()),
        _ => None,
    };
    let name = match e {
        GrokError::UnknownPattern { name, .. } | GrokError::UnknownType { name, .. } => {
            Some(name.as_str())
        }
        _ => None,
    };
    let search = |key: &str| -> Option<(&'n Node, String)> {
        let n = body.get(key)?;
        match &n.kind {
            NodeKind::Scalar { value, .. } if expr.is_some_and(|x| x == value) => {
                Some((n, join(path, key)))
            }
            NodeKind::Seq(items) => items.iter().enumerate().find_map(|(i, it)| {
                (it.as_str().is_some() && it.as_str() == expr)
                    .then(|| (it, index(&join(path, key), i)))
            }),
            NodeKind::Map(entries) => entries.iter().find_map(|(k, v)| {
                let hit = v.as_str() == expr
                    || name.is_some_and(|nm| v.as_str().is_some_and(|s| s.contains(nm)));
                hit.then(|| (v, join(&join(path, key), k.as_str().unwrap_or_default())))
            }),
            _ => None,
        }
    };
    match e {
        GrokError::PatternsDir { .. } | GrokError::BadDefinition { .. } => body
            .get("patterns_dir")
            .map(|n| (n, join(path, "patterns_dir"))),
        GrokError::NoPatterns => None,
        _ => search("patterns")
            .or_else(|| search("pattern"))
            .or_else(|| search("pattern_definitions")),
    }
    .or_else(|| body.get("patterns").map(|n| (n, join(path, "patterns"))))
    .unwrap_or((body, path.to_string()))
}
