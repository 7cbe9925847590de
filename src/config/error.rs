//! Configuration errors: every one names the file, line and column, the YAML path and what
//! was expected. Loading collects them all ([`ConfigErrors`]) instead of stopping at the first.

use std::fmt;
use std::path::PathBuf;

/// A position in a configuration file (line and column are 1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file or directory could not be read.
    #[error("{path}: cannot read: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// The `--config` directory holds no `*.yaml` / `*.yml` file.
    #[error("{path}: no pipeline files (*.yaml, *.yml) found")]
    NoPipelines {
        /// The directory.
        path: PathBuf,
    },
    /// The file is not valid YAML.
    #[error("{at}: YAML syntax error: {message}")]
    Syntax {
        /// Where the parser stopped.
        at: Location,
        /// The parser's message.
        message: String,
    },
    /// A key that this section does not have.
    #[error("{at}: {path}: unknown key `{key}`{}; expected one of: {expected}", suggestion_text(.suggestion))]
    UnknownKey {
        /// Where the key is.
        at: Location,
        /// The YAML path of the section holding the key.
        path: String,
        /// The key as written.
        key: String,
        /// The closest known key, if one is close enough.
        suggestion: Option<String>,
        /// The keys this section accepts.
        expected: String,
    },
    /// A key given twice in the same mapping.
    #[error("{at}: {path}: duplicate key `{key}` (first given at line {first_line})")]
    DuplicateKey {
        /// Where the second occurrence is.
        at: Location,
        /// The YAML path of the mapping.
        path: String,
        /// The key.
        key: String,
        /// The line of the first occurrence.
        first_line: usize,
    },
    /// A required key is missing.
    #[error("{at}: {path}: missing required key `{key}` ({expected})")]
    MissingKey {
        /// Where the section holding the key starts.
        at: Location,
        /// The YAML path of the section.
        path: String,
        /// The missing key.
        key: String,
        /// What the key must hold.
        expected: String,
    },
    /// A value of the wrong YAML type (a list where a string is expected, …).
    #[error("{at}: {path}: expected {expected}, found {found}")]
    WrongType {
        /// Where the value is.
        at: Location,
        /// The YAML path of the value.
        path: String,
        /// What was expected.
        expected: String,
        /// What was found.
        found: String,
    },
    /// A value of the right type that is not acceptable (bad duration, size, regex, grok
    /// pattern, unknown enum value, out of range, …).
    #[error("{at}: {path}: {message} (expected {expected})")]
    InvalidValue {
        /// Where the value is.
        at: Location,
        /// The YAML path of the value.
        path: String,
        /// What is wrong with it.
        message: String,
        /// What was expected.
        expected: String,
    },
    /// A `${VAR}` whose variable is unset and has no `:-default`.
    #[error(
        "{at}: {path}: environment variable `{var}` is not set (use `${{{var}:-default}}` to give a default)"
    )]
    UnsetVariable {
        /// Where the value with the reference is.
        at: Location,
        /// The YAML path of the value.
        path: String,
        /// The variable name.
        var: String,
    },
    /// A feature this build does not have (e.g. `buffer.type: kafka`).
    #[error("{at}: {path}: {message}")]
    Unsupported {
        /// Where the value is.
        at: Location,
        /// The YAML path of the value.
        path: String,
        /// What is not supported, and what to do instead.
        message: String,
    },
    /// Two pipelines with the same name.
    #[error("{at}: name: pipeline name `{name}` is already used by {first}")]
    DuplicatePipeline {
        /// Where the second `name` is.
        at: Location,
        /// The name.
        name: String,
        /// Where the first pipeline with this name is.
        first: Location,
    },
    /// Two pipelines writing to the same topic (their buffer topic or its `.dead` topic).
    #[error(
        "{at}: buffer.topic: topic `{topic}` is already claimed by pipeline `{other}` ({first})"
    )]
    TopicClaimed {
        /// Where the second claim is.
        at: Location,
        /// The topic.
        topic: String,
        /// The pipeline that claimed it first.
        other: String,
        /// Where the first claim is.
        first: Location,
    },
    /// `sluice test PIPELINE` names a pipeline that does not exist.
    #[error("no pipeline named `{name}`{}; pipelines: {known}", suggestion_text(.suggestion))]
    UnknownPipeline {
        /// The name asked for.
        name: String,
        /// The closest pipeline name.
        suggestion: Option<String>,
        /// The pipelines that exist.
        known: String,
    },
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

impl ConfigError {
    /// Where the error is, if it is inside a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Syntax { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::DuplicateKey { at, .. }
            | ConfigError::MissingKey { at, .. }
            | ConfigError::WrongType { at, .. }
            | ConfigError::InvalidValue { at, .. }
            | ConfigError::UnsetVariable { at, .. }
            | ConfigError::Unsupported { at, .. }
            | ConfigError::DuplicatePipeline { at, .. }
            | ConfigError::TopicClaimed { at, .. } => Some(at),
            ConfigError::Io { .. }
            | ConfigError::NoPipelines { .. }
            | ConfigError::UnknownPipeline { .. } => None,
        }
    }
}

/// Every error found while loading the configuration, in file and position order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// True if no error was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of errors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Sorts by file and position (errors without a location first), keeping the order of
    /// errors at the same position.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| a.location().cmp(&b.location()));
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Levenshtein distance between two short strings (for "did you mean").
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_and_suggestion() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(
            did_you_mean("parititons", ["partitions", "topic"]).as_deref(),
            Some("partitions")
        );
        assert_eq!(did_you_mean("zzzzzz", ["partitions", "topic"]), None);
    }
}
