//! The `grok` step and its embedded pattern library (compatible with Logstash's by name and
//! captured fields).
//!
//! A grok expression such as `%{IPORHOST:clientip} %{NUMBER:bytes:int}` is expanded once
//! ([`expand`]) against the built-in library of the chosen naming set, the `patterns_dir` files
//! and the inline `pattern_definitions`, then compiled once to the engine it needs
//! ([`engine`]): the `regex` crate where possible, `fancy-regex` only for what needs
//! backtracking. Matching reuses capture buffers; a match allocates only the captured values.
//! See `docs/grok.md`.

pub mod engine;
pub mod expand;
pub mod library;
mod start;
mod step;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use engine::EngineKind;
pub use step::GrokStep;

use crate::cleaner::OnFailure;

/// Which naming set the built-in library uses (`ecs_compatibility:` in YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum EcsCompatibility {
    /// ECS field names (`[source][address]`, `[http][request][method]`), as Logstash 8. The
    /// default.
    #[default]
    V1,
    /// Logstash's legacy field names (`clientip`, `verb`, …).
    Disabled,
}

/// Configuration of one grok step.
#[derive(Debug, Clone, PartialEq)]
pub struct GrokConfig {
    /// The field matched. Default: `message`.
    pub field: String,
    /// Grok expressions, tried in order; the first that matches wins. Default: none (an error
    /// at construction).
    pub patterns: Vec<String>,
    /// Inline definitions (`NAME: regex`), taking precedence over files and the library.
    /// Default: none.
    pub pattern_definitions: BTreeMap<String, String>,
    /// Files or directories (every regular file in it) of definitions in Logstash's format,
    /// taking precedence over the library. Default: none.
    pub patterns_dir: Vec<PathBuf>,
    /// The library's naming set. Default: [`EcsCompatibility::V1`].
    pub ecs_compatibility: EcsCompatibility,
    /// Write captures that matched the empty string (and `null` for groups that did not take
    /// part). Default: false.
    pub keep_empty_captures: bool,
    /// Fields a capture replaces; other existing fields receive a second value as an array, as
    /// in Logstash. Default: none.
    pub overwrite: Vec<String>,
    /// What happens to an event no pattern matches. Default: [`OnFailure::Tag`].
    pub on_failure: OnFailure,
    /// Tags added on failure with [`OnFailure::Tag`]. Default: `["_grokparsefailure"]`.
    pub tag_on_failure: Vec<String>,
}

impl Default for GrokConfig {
    fn default() -> Self {
        GrokConfig {
            field: "message".to_string(),
            patterns: Vec::new(),
            pattern_definitions: BTreeMap::new(),
            patterns_dir: Vec::new(),
            ecs_compatibility: EcsCompatibility::V1,
            keep_empty_captures: false,
            overwrite: Vec::new(),
            on_failure: OnFailure::Tag,
            tag_on_failure: vec!["_grokparsefailure".to_string()],
        }
    }
}

/// Why a grok step could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GrokError {
    /// `%{NAME}` names no pattern.
    #[error("grok pattern `{pattern}`: unknown pattern name `{name}`{}", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownPattern {
        /// The grok expression.
        pattern: String,
        /// The unknown name.
        name: String,
        /// The closest known name, if any is close.
        suggestion: Option<String>,
    },
    /// `%{NAME:field:type}` with a type other than `int`, `float` (or `string`).
    #[error(
        "grok pattern `{pattern}`: unknown capture type `{kind}` on `%{{{name}…}}` (expected int or float)"
    )]
    UnknownType {
        /// The grok expression.
        pattern: String,
        /// The referenced pattern.
        name: String,
        /// The type given.
        kind: String,
    },
    /// A definition refers to itself.
    #[error("grok pattern `{pattern}`: recursive definition {chain}")]
    Recursive {
        /// The grok expression.
        pattern: String,
        /// The chain of names, `A -> B -> A`.
        chain: String,
    },
    /// The expanded expression is not a valid regular expression.
    #[error("grok pattern `{pattern}`: bad regular expression: {message}")]
    BadRegex {
        /// The grok expression.
        pattern: String,
        /// The regex engine's explanation.
        message: String,
    },
    /// A `patterns_dir` entry cannot be read.
    #[error("grok patterns_dir: cannot read {}: {source}", path.display())]
    PatternsDir {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of a pattern file is not `NAME regex`.
    #[error("grok pattern file {}:{line}: expected `NAME regex`, found `{text}`", path.display())]
    BadDefinition {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// The step has no pattern.
    #[error("grok: `patterns` is empty")]
    NoPatterns,
}

impl GrokError {
    pub(crate) fn unknown<'a>(
        pattern: &str,
        name: &str,
        known: impl Iterator<Item = &'a String>,
    ) -> GrokError {
        GrokError::UnknownPattern {
            pattern: pattern.to_string(),
            name: name.to_string(),
            suggestion: did_you_mean(name, known),
        }
    }
}

/// The known name closest to `name` (case-insensitive edit distance), if close enough.
fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let limit = (name.len() / 3).max(2);
    known
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, k)| (*d, k.len()))
        .map(|(_, k)| k.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// All pattern names of the built-in library for a naming set (for tests/validation).
pub fn library_pattern_names(ecs: EcsCompatibility) -> Vec<String> {
    library::builtin(ecs).keys().cloned().collect()
}

/// All definitions a step sees: the library, then `patterns_dir` files, then inline ones.
pub fn definitions(config: &GrokConfig) -> Result<BTreeMap<String, String>, GrokError> {
    let mut defs = library::builtin(config.ecs_compatibility).clone();
    library::load_dirs(&config.patterns_dir, &mut defs)?;
    for (k, v) in &config.pattern_definitions {
        defs.insert(k.clone(), v.clone());
    }
    Ok(defs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known: Vec<String> = ["IPORHOST", "IP", "NUMBER", "COMBINEDAPACHELOG"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            did_you_mean("NUBMER", known.iter()).as_deref(),
            Some("NUMBER")
        );
        assert_eq!(did_you_mean("ip", known.iter()).as_deref(), Some("IP"));
        assert_eq!(
            did_you_mean("COMBINEDAPACHE", known.iter()).as_deref(),
            Some("COMBINEDAPACHELOG")
        );
        assert_eq!(did_you_mean("ZZZZZZZZ", known.iter()), None);
    }
}
