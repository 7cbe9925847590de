//! Why a step could not be built from its configuration.

/// A step configuration that cannot work (bad regex, bad date format, unknown timezone, …).
/// `key` names the configuration key at fault so the config loader can point at it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct StepError {
    /// The step's configuration key at fault (`pattern`, `formats`, `timezone`, …).
    pub key: &'static str,
    /// The position in the key's list, when the key holds a list.
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// What was expected.
    pub expected: &'static str,
}

impl StepError {
    /// An error about `key` (or its `index`-th element).
    pub fn new(
        key: &'static str,
        index: Option<usize>,
        message: impl Into<String>,
        expected: &'static str,
    ) -> Self {
        StepError {
            key,
            index,
            message: message.into(),
            expected,
        }
    }
}

/// A `regex` error on one line: the regex crate's syntax errors span several lines (the
/// pattern, a caret, the message); config errors are one line each.
pub fn regex_message(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => {
            let msg = s
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(s)
                .trim()
                .trim_start_matches("error: ");
            let caret = s
                .lines()
                .filter(|l| !l.trim().is_empty() && l.trim().chars().all(|c| c == '^'))
                .find_map(|l| l.find('^'));
            match caret {
                Some(col) => format!("{msg} (at character {})", col.saturating_sub(4) + 1),
                None => msg.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regex_errors_fit_on_one_line_with_the_position() {
        let pattern = ["^(?P<ok>a)", "(?P<[b]>x)"].concat();
        let e = regex::Regex::new(&pattern).unwrap_err();
        let m = super::regex_message(&e);
        assert!(!m.contains('\n'), "{m}");
        assert!(m.ends_with("(at character 15)"), "{m}");
    }
}
