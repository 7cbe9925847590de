//! Raw structs → validated plan: defaults, units, ranges, which keys apply to which `type`.
//! Every problem goes to the [`Ctx`] with the position of the offending node.

use super::de::Ctx;
use super::plan::*;
use super::raw::{BufferKind, RawPartitionBy, RawPipeline};
use super::units::{DURATION_EXPECTED, SIZE_EXPECTED, parse_duration, parse_size};
use super::yaml::{Node, NodeKind};
use super::{ConfigError, steps};

mod sink;
use std::sync::Arc;
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// What a pipeline or topic name may hold.
pub const NAME_EXPECTED: &str =
    "a name of letters, digits, `.`, `_` and `-` (at most 100 characters, not starting with `.`)";

/// True if `s` can name a pipeline, topic or group (it becomes a directory name).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Builds the plan of one file. Returns `None` only when the pipeline has no usable name;
/// otherwise a plan (possibly built from defaults where values were wrong — the caller
/// discards it if `ctx` holds errors).
pub fn build(raw: RawPipeline, root: &Node, ctx: &Ctx<'_>) -> Option<PipelinePlan> {
    let b = B { ctx, root };
    let name = match &raw.name {
        None => {
            ctx.push(ConfigError::MissingKey {
                at: ctx.at(root),
                path: "(top level)".into(),
                key: "name".into(),
                expected: NAME_EXPECTED.into(),
            });
            None
        }
        Some(n) if !valid_name(n) => {
            b.invalid(
                &["name"],
                format!("`{n}` is not a valid name"),
                NAME_EXPECTED,
            );
            None
        }
        Some(n) => Some(n.clone()),
    }?;
    let source = b.source(&raw);
    let buffer = b.buffer(&raw, &name);
    let cleaner = b.cleaner(&raw, &name);
    let sink = b.sink(&raw);
    let mut tests = Vec::new();
    for (i, t) in raw.tests.into_iter().enumerate() {
        let i = i.to_string();
        let node = b.node(&["tests", &i]);
        let Some(input) = t.input else {
            ctx.push(ConfigError::MissingKey {
                at: ctx.at(node),
                path: format!("tests[{i}]"),
                key: "input".into(),
                expected: "the input line".into(),
            });
            continue;
        };
        tests.push(TestCase {
            input,
            expect: t.expect,
            outcome: t.outcome,
            at: ctx.at(node),
        });
    }
    Some(PipelinePlan {
        at: ctx.at(b.node(&["name"])),
        topic_at: ctx.at(match root.get("buffer").and_then(|n| n.get("topic")) {
            Some(n) => n,
            None => b.node(&["name"]),
        }),
        name,
        description: raw.description,
        file: ctx.file.to_path_buf(),
        source,
        buffer,
        cleaner,
        sink,
        test_input: raw.test_input,
        tests,
    })
}

struct B<'a> {
    ctx: &'a Ctx<'a>,
    root: &'a Node,
}

impl<'a> B<'a> {
    /// The node at `path`, or the deepest existing node on the way (for positions).
    fn node(&self, path: &[&str]) -> &'a Node {
        let mut n = self.root;
        for p in path {
            let next = match &n.kind {
                NodeKind::Map(_) => n.get(p),
                NodeKind::Seq(items) => p.parse::<usize>().ok().and_then(|i| items.get(i)),
                NodeKind::Scalar { .. } => None,
            };
            match next {
                Some(x) => n = x,
                None => break,
            }
        }
        n
    }

    fn path(path: &[&str]) -> String {
        let mut s = String::new();
        for p in path {
            if p.parse::<usize>().is_ok() {
                s.push_str(&format!("[{p}]"));
            } else {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(p);
            }
        }
        s
    }

    fn invalid(&self, path: &[&str], message: String, expected: &str) {
        self.ctx
            .invalid(self.node(path), &Self::path(path), message, expected);
    }

    fn duration(&self, v: &Option<String>, path: &[&str], default: Duration) -> Duration {
        match v {
            None => default,
            Some(s) => parse_duration(s).unwrap_or_else(|e| {
                self.invalid(path, e, DURATION_EXPECTED);
                default
            }),
        }
    }

    fn size(&self, v: &Option<String>, path: &[&str], default: u64) -> u64 {
        match v {
            None => default,
            Some(s) => parse_size(s).unwrap_or_else(|e| {
                self.invalid(path, e, SIZE_EXPECTED);
                default
            }),
        }
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(
        &self,
        v: Option<T>,
        path: &[&str],
        default: T,
        min: T,
        max: T,
    ) -> T {
        match v {
            None => default,
            Some(x) if x < min || x > max => {
                self.invalid(
                    path,
                    format!("{x} is out of range"),
                    &format!("a number from {min} to {max}"),
                );
                default
            }
            Some(x) => x,
        }
    }

    /// Reports keys of the mapping at `section` that are not in `allowed` (keys that exist
    /// for another `type`).
    fn only_keys(&self, section: &str, allowed: &[&str], kind: &str) {
        let Some(NodeKind::Map(entries)) = self.root.get(section).map(|n| &n.kind) else {
            return;
        };
        for (k, _) in entries {
            let key = k.as_str().unwrap_or_default();
            if !allowed.contains(&key) {
                self.ctx.invalid(
                    k,
                    &format!("{section}.{key}"),
                    format!("`{key}` does not apply to {section} type `{kind}`"),
                    &format!("for type `{kind}`, one of: {}", allowed.join(", ")),
                );
            }
        }
    }

    fn globs(&self, list: &[String], key: &str) {
        for (i, g) in list.iter().enumerate() {
            if let Err(e) = globset::Glob::new(g) {
                self.invalid(
                    &["source", key, &i.to_string()],
                    format!("bad glob `{g}`: {e}"),
                    "a glob such as /var/log/*.log",
                );
            }
        }
    }

    fn source(&self, raw: &RawPipeline) -> SourcePlan {
        let s = &raw.source;
        match s.kind {
            SourceKind::File => {
                if s.paths.is_empty() {
                    let node = self.node(&["source", "paths"]);
                    self.ctx.push(ConfigError::MissingKey {
                        at: self.ctx.at(node),
                        path: "source".into(),
                        key: "paths".into(),
                        expected: "a list of globs of the files to tail".into(),
                    });
                }
                self.globs(&s.paths, "paths");
                self.globs(&s.exclude, "exclude");
            }
            SourceKind::Stdin => self.only_keys(
                "source",
                &["type", "multiline", "fields", "tags", "max_line_bytes"],
                "stdin",
            ),
        }
        let multiline = s.multiline.as_ref().and_then(|m| {
            let p = ["source", "multiline"];
            let Some(pattern) = &m.pattern else {
                self.ctx.push(ConfigError::MissingKey {
                    at: self.ctx.at(self.node(&p)),
                    path: "source.multiline".into(),
                    key: "pattern".into(),
                    expected: "a regular expression".into(),
                });
                return None;
            };
            let pattern = match regex::Regex::new(pattern) {
                Ok(r) => r,
                Err(e) => {
                    self.invalid(
                        &["source", "multiline", "pattern"],
                        format!(
                            "bad regular expression: {}",
                            crate::cleaner::error::regex_message(&e)
                        ),
                        "a regular expression",
                    );
                    return None;
                }
            };
            Some(MultilinePlan {
                pattern,
                negate: m.negate,
                match_mode: m.match_mode,
                max_lines: self.range(
                    m.max_lines,
                    &["source", "multiline", "max_lines"],
                    500,
                    1,
                    1_000_000,
                ) as usize,
                max_bytes: self.size(
                    &m.max_bytes,
                    &["source", "multiline", "max_bytes"],
                    10 * MIB,
                ),
                timeout: self.duration(
                    &m.timeout,
                    &["source", "multiline", "timeout"],
                    Duration::from_secs(5),
                ),
            })
        });
        SourcePlan {
            kind: s.kind,
            paths: s.paths.clone(),
            exclude: s.exclude.clone(),
            start_at: s.start_at,
            multiline,
            fields: s.fields.clone().into_iter().collect(),
            tags: s.tags.clone(),
            max_line_bytes: self.size(&s.max_line_bytes, &["source", "max_line_bytes"], MIB),
            close_inactive: self.duration(
                &s.close_inactive,
                &["source", "close_inactive"],
                Duration::from_secs(300),
            ),
            clean_removed: self.duration(
                &s.clean_removed,
                &["source", "clean_removed"],
                Duration::from_secs(72 * 3600),
            ),
            scan_interval: self.duration(
                &s.scan_interval,
                &["source", "scan_interval"],
                Duration::from_secs(1),
            ),
            checkpoint_interval: self.duration(
                &s.checkpoint_interval,
                &["source", "checkpoint_interval"],
                Duration::from_secs(1),
            ),
        }
    }

    fn buffer(&self, raw: &RawPipeline, name: &str) -> BufferPlan {
        let b = &raw.buffer;
        if b.kind == BufferKind::Kafka {
            let node = self.node(&["buffer", "type"]);
            self.ctx.push(ConfigError::Unsupported {
                at: self.ctx.at(node),
                path: "buffer.type".into(),
                message: "`kafka` is not supported in this build; use `embedded` (the default)"
                    .into(),
            });
        } else if !b.brokers.is_empty() {
            self.invalid(
                &["buffer", "brokers"],
                "`brokers` only applies to `type: kafka`".into(),
                "no `brokers` with the embedded buffer",
            );
        }
        let topic = match &b.topic {
            Some(t) if !valid_name(t) => {
                self.invalid(
                    &["buffer", "topic"],
                    format!("`{t}` is not a valid topic name"),
                    NAME_EXPECTED,
                );
                name.to_string()
            }
            Some(t) => t.clone(),
            None => name.to_string(),
        };
        let partition_by = match &b.partition_by {
            RawPartitionBy::RoundRobin => PartitionBy::RoundRobin,
            RawPartitionBy::Sticky => PartitionBy::Sticky,
            RawPartitionBy::Key(t) => {
                let field = t
                    .trim()
                    .strip_prefix("{{")
                    .and_then(|s| s.strip_suffix("}}"))
                    .map(str::trim)
                    .filter(|f| !f.is_empty() && !f.contains(['{', '}', ' ']));
                match field {
                    Some(f) => PartitionBy::Key(f.to_string()),
                    None => {
                        self.invalid(
                            &["buffer", "partition_by", "key"],
                            format!("`{t}` is not a field reference"),
                            "a field reference such as \"{{ log.file.path }}\"",
                        );
                        PartitionBy::RoundRobin
                    }
                }
            }
        };
        let acks = match b.acks.as_deref() {
            None | Some("all") | Some("-1") => Acks::All,
            Some("1") => Acks::Written,
            Some("0") => Acks::None,
            Some(other) => {
                self.invalid(
                    &["buffer", "acks"],
                    format!("unknown value `{other}`"),
                    "0, 1 or all",
                );
                Acks::All
            }
        };
        let r = &b.retention;
        BufferPlan {
            dead_letter_topic: format!("{topic}.dead"),
            topic,
            partitions: self.range(b.partitions, &["buffer", "partitions"], 1, 1, 1024),
            partition_by,
            acks,
            linger: self.duration(&b.linger, &["buffer", "linger"], Duration::from_millis(5)),
            batch_size: self.size(&b.batch_size, &["buffer", "batch_size"], MIB),
            compression: b.compression,
            segment_bytes: self.size(&b.segment_bytes, &["buffer", "segment_bytes"], 128 * MIB),
            segment_age: self.duration(
                &b.segment_age,
                &["buffer", "segment_age"],
                Duration::from_secs(3600),
            ),
            retention: RetentionPlan {
                max_bytes: self.size(
                    &r.max_bytes,
                    &["buffer", "retention", "max_bytes"],
                    10 * GIB,
                ),
                max_age: self.duration(
                    &r.max_age,
                    &["buffer", "retention", "max_age"],
                    Duration::from_secs(7 * 86400),
                ),
                when_full: r.when_full,
                block_timeout: self.duration(
                    &r.block_timeout,
                    &["buffer", "retention", "block_timeout"],
                    Duration::from_secs(30),
                ),
            },
        }
    }

    fn cleaner(&self, raw: &RawPipeline, name: &str) -> CleanerPlan {
        let c = &raw.cleaner;
        let group = match &c.group {
            Some(g) if !valid_name(g) => {
                self.invalid(
                    &["cleaner", "group"],
                    format!("`{g}` is not a valid group name"),
                    NAME_EXPECTED,
                );
                format!("{name}-cleaners")
            }
            Some(g) => g.clone(),
            None => format!("{name}-cleaners"),
        };
        let steps = match self.root.get("cleaner").and_then(|c| c.get("steps")) {
            Some(node) => steps::compile(node, "cleaner.steps", self.ctx, c.ecs_compatibility),
            None => Default::default(),
        };
        CleanerPlan {
            group,
            workers: self.range(c.workers, &["cleaner", "workers"], 2, 1, 256),
            ecs_compatibility: c.ecs_compatibility,
            batch_size: self.range(c.batch_size, &["cleaner", "batch_size"], 1000, 1, 1_000_000)
                as usize,
            session_timeout: self.duration(
                &c.session_timeout,
                &["cleaner", "session_timeout"],
                Duration::from_secs(10),
            ),
            max_poll_interval: self.duration(
                &c.max_poll_interval,
                &["cleaner", "max_poll_interval"],
                Duration::from_secs(300),
            ),
            commit_interval: self.duration(
                &c.commit_interval,
                &["cleaner", "commit_interval"],
                Duration::from_secs(1),
            ),
            auto_offset_reset: c.auto_offset_reset,
            steps: Arc::new(steps),
        }
    }
}
