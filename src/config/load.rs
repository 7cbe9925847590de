//! Finding and loading pipeline files, and the checks across files (duplicate names, topics
//! claimed twice).

use super::build::build;
use super::de::{Ctx, from_node};
use super::error::{ConfigError, ConfigErrors, Location};
use super::plan::PipelinePlan;
use super::raw::RawPipeline;
use super::yaml;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Loads every pipeline under `path` (a directory: its `*.yaml` / `*.yml` files, sorted by
/// name, sub-directories not scanned; or one file), with `${VAR}` from the process
/// environment. Returns every error of every file at once.
pub fn load(path: &Path) -> Result<Vec<PipelinePlan>, ConfigErrors> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// [`load`] with `${VAR}` looked up through `env`.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<PipelinePlan>, ConfigErrors> {
    let files = pipeline_files(path)?;
    let mut errors = Vec::new();
    let mut plans = Vec::new();
    for file in files {
        match std::fs::read(&file) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => {
                    if let Some(plan) = load_file(&file, &text, env, &mut errors) {
                        plans.push(plan);
                    }
                }
                Err(e) => errors.push(not_utf8(&file, e.as_bytes(), e.utf8_error())),
            },
            Err(e) => errors.push(ConfigError::Io {
                path: file,
                message: e.to_string(),
            }),
        }
    }
    check_across(&plans, &mut errors);
    if errors.is_empty() {
        Ok(plans)
    } else {
        let mut errors = ConfigErrors(errors);
        errors.sort();
        Err(errors)
    }
}

/// Loads one pipeline from `text` (as if read from `file`).
pub fn load_str(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PipelinePlan, ConfigErrors> {
    let mut errors = Vec::new();
    let plan = load_file(file, text, env, &mut errors);
    match plan {
        Some(p) if errors.is_empty() => Ok(p),
        _ => {
            let mut errors = ConfigErrors(errors);
            errors.sort();
            Err(errors)
        }
    }
}

/// A file that is not UTF-8: a syntax error at the first bad byte.
fn not_utf8(file: &Path, bytes: &[u8], e: std::str::Utf8Error) -> ConfigError {
    let good = &bytes[..e.valid_up_to()];
    let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = good.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&good[line_start..]).chars().count() + 1;
    ConfigError::Syntax {
        at: Location {
            file: file.to_path_buf(),
            line,
            column,
        },
        message: format!(
            "the file is not valid UTF-8 (byte offset {})",
            e.valid_up_to()
        ),
    }
}

/// The pipeline files `path` designates.
pub fn pipeline_files(path: &Path) -> Result<Vec<PathBuf>, ConfigErrors> {
    let io = |e: std::io::Error| ConfigError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let is_yaml = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(ConfigError::NoPipelines {
            path: path.to_path_buf(),
        }
        .into());
    }
    Ok(files)
}

fn load_file(
    file: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Option<PipelinePlan> {
    let before = errors.len();
    let Some(root) = yaml::parse(file, text, env, errors) else {
        if errors.len() == before {
            errors.push(ConfigError::MissingKey {
                at: Location {
                    file: file.to_path_buf(),
                    line: 1,
                    column: 1,
                },
                path: "(top level)".into(),
                key: "name".into(),
                expected: "a pipeline (the file is empty)".into(),
            });
        }
        return None;
    };
    let ctx = Ctx::new(file);
    let plan = if root.as_map().is_some() {
        from_node::<RawPipeline>(&root, "", &ctx).and_then(|raw| build(raw, &root, &ctx))
    } else {
        ctx.wrong_type(&root, "", "a mapping (one pipeline)");
        None
    };
    errors.extend(ctx.into_errors());
    plan
}

/// Pipeline names must be unique; a topic (or its `.dead` topic) belongs to one pipeline.
fn check_across(plans: &[PipelinePlan], errors: &mut Vec<ConfigError>) {
    let mut names: HashMap<&str, &PipelinePlan> = HashMap::new();
    let mut topics: HashMap<&str, &PipelinePlan> = HashMap::new();
    for p in plans {
        if let Some(first) = names.get(p.name.as_str()) {
            errors.push(ConfigError::DuplicatePipeline {
                at: p.at.clone(),
                name: p.name.clone(),
                first: first.at.clone(),
            });
            continue;
        }
        names.insert(&p.name, p);
        for topic in [&p.buffer.topic, &p.buffer.dead_letter_topic] {
            if let Some(first) = topics.get(topic.as_str()) {
                errors.push(ConfigError::TopicClaimed {
                    at: p.topic_at.clone(),
                    topic: topic.clone(),
                    other: first.name.clone(),
                    first: first.topic_at.clone(),
                });
                break;
            }
        }
        topics.insert(&p.buffer.topic, p);
        topics.insert(&p.buffer.dead_letter_topic, p);
    }
}
