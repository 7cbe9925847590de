//! The built-in pattern library, embedded in the binary, and the loader for files in Logstash's
//! pattern format (`NAME regex` per line, `#` comments).
//!
//! The library has the same file and pattern names as Logstash's core library
//! (logstash-patterns-core), in both naming sets; the regular expressions were written for
//! this project (see `docs/grok.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{EcsCompatibility, GrokError};

macro_rules! files {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("patterns/", $dir, "/", $name)))),*]
    };
}

/// The pattern files of the legacy naming set: (file name, contents).
pub const LEGACY_FILES: &[(&str, &str)] = files!("legacy":
    "grok-patterns", "aws", "bacula", "bind", "bro", "exim", "firewalls", "haproxy", "httpd",
    "java", "junos", "linux-syslog", "maven", "mcollective", "mcollective-patterns", "mongodb",
    "nagios", "postgresql", "rails", "redis", "ruby", "squid", "zeek");

/// The pattern files of the ecs-v1 naming set: (file name, contents).
pub const ECS_V1_FILES: &[(&str, &str)] = files!("ecs-v1":
    "grok-patterns", "aws", "bacula", "bind", "bro", "exim", "firewalls", "haproxy", "httpd",
    "java", "junos", "linux-syslog", "maven", "mcollective", "mongodb", "nagios", "postgresql",
    "rails", "redis", "ruby", "squid", "zeek");

/// The files of a naming set.
pub fn files(ecs: EcsCompatibility) -> &'static [(&'static str, &'static str)] {
    match ecs {
        EcsCompatibility::V1 => ECS_V1_FILES,
        EcsCompatibility::Disabled => LEGACY_FILES,
    }
}

/// The built-in definitions of a naming set (parsed once).
pub fn builtin(ecs: EcsCompatibility) -> &'static BTreeMap<String, String> {
    static LEGACY: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    static V1: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    let cell = match ecs {
        EcsCompatibility::V1 => &V1,
        EcsCompatibility::Disabled => &LEGACY,
    };
    cell.get_or_init(|| {
        let mut defs = BTreeMap::new();
        for (name, text) in files(ecs) {
            // The embedded files are tested to parse; a bad line would only be skipped.
            let _ = parse_into(text, Path::new(name), &mut defs);
        }
        defs
    })
}

/// Parses pattern-file `text` into `defs` (later definitions replace earlier ones, as in
/// Logstash). `path` names the file in errors.
pub fn parse_into(
    text: &str,
    path: &Path,
    defs: &mut BTreeMap<String, String>,
) -> Result<(), GrokError> {
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let (name, regex) = match line.split_once([' ', '\t']) {
            Some((name, regex)) => (name, regex.trim_start_matches([' ', '\t'])),
            None => (line, ""),
        };
        if regex.is_empty() {
            return Err(GrokError::BadDefinition {
                path: path.to_path_buf(),
                line: n + 1,
                text: line.to_string(),
            });
        }
        defs.insert(name.to_string(), regex.to_string());
    }
    Ok(())
}

/// Loads `patterns_dir` entries: a directory contributes all its regular files (sorted by
/// name), a file itself.
pub fn load_dirs(dirs: &[PathBuf], defs: &mut BTreeMap<String, String>) -> Result<(), GrokError> {
    for dir in dirs {
        let io = |source| GrokError::PatternsDir {
            path: dir.clone(),
            source,
        };
        let meta = std::fs::metadata(dir).map_err(io)?;
        let mut files = Vec::new();
        if meta.is_dir() {
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let entry = entry.map_err(io)?;
                if entry.file_type().map_err(io)?.is_file() {
                    files.push(entry.path());
                }
            }
            files.sort();
        } else {
            files.push(dir.clone());
        }
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| GrokError::PatternsDir {
                path: file.clone(),
                source,
            })?;
            parse_into(&text, &file, defs)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_parses() {
        for ecs in [EcsCompatibility::V1, EcsCompatibility::Disabled] {
            for (name, text) in files(ecs) {
                let mut d = BTreeMap::new();
                parse_into(text, Path::new(name), &mut d)
                    .unwrap_or_else(|e| panic!("{ecs:?} {name}: {e}"));
                assert!(!d.is_empty(), "{name} is empty");
            }
        }
    }

    #[test]
    fn logstash_file_format() {
        let mut d = BTreeMap::new();
        parse_into("# c\n\n  A  a+\nB\t%{A} b\r\n", Path::new("f"), &mut d).unwrap();
        assert_eq!(d["A"], "a+");
        assert_eq!(d["B"], "%{A} b");
        let err = parse_into("A a\nLONELY\n", Path::new("f"), &mut d).unwrap_err();
        assert!(err.to_string().contains("f:2"), "{err}");
    }
}
