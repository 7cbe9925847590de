//! `cleaner.steps` and `if:` conditions: YAML nodes → the compiled [`Cleaner`].
//!
//! A step is a mapping with exactly one step kind key (its body) and optionally `if:` (a
//! condition) and `id:` (its name in dead letters and metrics; default `<kind>#<index>`).

use super::ConfigError;
use super::de::{Ctx, from_node};
use super::plan::EcsMode;
use super::yaml::{Node, NodeKind, index, join};
use crate::cleaner::condition::{Compare, Condition};
use crate::cleaner::date::{DateConfig, DateStep};
use crate::cleaner::error::StepError;
use crate::cleaner::field::{Failure, FieldPath};
use crate::cleaner::json::{JsonConfig, JsonStep};
use crate::cleaner::kv::{KvConfig, KvStep};
use crate::cleaner::mutate::*;
use crate::cleaner::regex_step::{RegexConfig, RegexStep};
use crate::cleaner::{Cleaner, OnFailure, Step};
use crate::value::Value;
use serde::Deserialize;

/// The step kinds.
pub const KINDS: &[&str] = &[
    "grok",
    "regex",
    "json",
    "kv",
    "date",
    "rename",
    "remove",
    "set",
    "convert",
    "lowercase",
    "uppercase",
    "drop",
];

/// The condition operators.
pub const OPERATORS: &[&str] = &[
    "exists",
    "equals",
    "not_equals",
    "gt",
    "gte",
    "lt",
    "lte",
    "matches",
    "has_tag",
    "and",
    "or",
    "not",
];

/// `on_failure` as written.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RawOnFailure {
    /// `tag`.
    #[default]
    Tag,
    /// `drop`.
    Drop,
    /// `dead_letter`.
    DeadLetter,
}

impl From<RawOnFailure> for OnFailure {
    fn from(r: RawOnFailure) -> Self {
        match r {
            RawOnFailure::Tag => OnFailure::Tag,
            RawOnFailure::Drop => OnFailure::Drop,
            RawOnFailure::DeadLetter => OnFailure::DeadLetter,
        }
    }
}

fn failure(on: RawOnFailure, tags: Option<Vec<String>>, default_tag: &str) -> Failure {
    Failure {
        on_failure: on.into(),
        tags: tags.unwrap_or_else(|| vec![default_tag.to_string()]),
    }
}

fn message() -> String {
    "message".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexBody {
    #[serde(default = "message")]
    field: String,
    pattern: Option<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    keep_empty_captures: bool,
    #[serde(default)]
    on_failure: RawOnFailure,
    tag_on_failure: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    #[serde(default = "message")]
    field: String,
    target: Option<String>,
    #[serde(default)]
    on_failure: RawOnFailure,
    tag_on_failure: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KvBody {
    #[serde(default = "message")]
    field: String,
    field_split: Option<String>,
    value_split: Option<String>,
    #[serde(default)]
    trim: String,
    #[serde(default)]
    include_keys: Vec<String>,
    #[serde(default)]
    exclude_keys: Vec<String>,
    target: Option<String>,
    #[serde(default)]
    prefix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateBody {
    field: String,
    formats: Vec<String>,
    timezone: Option<String>,
    target: Option<String>,
    #[serde(default)]
    on_failure: RawOnFailure,
    tag_on_failure: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawConversion {
    Integer,
    Float,
    Boolean,
    String,
}

/// Compiles the `steps` list at `node` (YAML path `path`).
pub fn compile(node: &Node, path: &str, ctx: &Ctx<'_>, ecs: EcsMode) -> Cleaner {
    let mut cleaner = Cleaner::new();
    let NodeKind::Seq(items) = &node.kind else {
        return cleaner; // the raw pass reported the wrong type
    };
    for (i, item) in items.iter().enumerate() {
        let ipath = index(path, i);
        let Some(entries) = item.as_map() else {
            ctx.wrong_type(
                item,
                &ipath,
                "a mapping with one step kind (grok, regex, date, …)",
            );
            continue;
        };
        let mut kind: Option<(&str, &Node)> = None;
        let mut cond = None;
        let mut id = None;
        for (k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            match key {
                "if" => cond = condition(v, &join(&ipath, "if"), ctx),
                "id" => id = from_node::<String>(v, &join(&ipath, "id"), ctx),
                _ if KINDS.contains(&key) => match kind {
                    Some((first, _)) => ctx.invalid(
                        k,
                        &ipath,
                        format!("a step has one kind; `{first}` and `{key}` given"),
                        "one step kind per list item",
                    ),
                    None => kind = Some((key, v)),
                },
                _ => ctx.push(ConfigError::UnknownKey {
                    at: ctx.at(k),
                    path: ipath.clone(),
                    key: key.to_string(),
                    suggestion: super::error::did_you_mean(
                        key,
                        KINDS.iter().chain(&["if", "id"]).copied(),
                    ),
                    expected: format!("a step kind ({}), `if` or `id`", KINDS.join(", ")),
                }),
            }
        }
        let Some((kind, body)) = kind else {
            if entries.iter().all(|(k, _)| {
                let k = k.as_str().unwrap_or_default();
                k == "if" || k == "id"
            }) {
                ctx.push(ConfigError::MissingKey {
                    at: ctx.at(item),
                    path: ipath,
                    key: "a step kind".into(),
                    expected: KINDS.join(", "),
                });
            }
            continue;
        };
        let bpath = join(&ipath, kind);
        if let Some(step) = step(kind, body, &bpath, ctx, ecs) {
            cleaner.push(id.unwrap_or_else(|| format!("{kind}#{i}")), cond, step);
        }
    }
    cleaner
}

/// Reports a step's own validation error at the key it names.
fn step_error(body: &Node, path: &str, e: StepError, ctx: &Ctx<'_>) {
    let key_node = body
        .get(e.key)
        .or_else(|| body.get(e.key.trim_end_matches('s')));
    let key = if body.get(e.key).is_none() && key_node.is_some() {
        e.key.trim_end_matches('s')
    } else {
        e.key
    };
    let mut node = key_node.unwrap_or(body);
    let mut p = join(path, key);
    if let (Some(i), NodeKind::Seq(items)) = (e.index, &node.kind)
        && let Some(item) = items.get(i)
    {
        node = item;
        p = index(&p, i);
    }
    ctx.invalid(node, &p, e.message, e.expected);
}

fn step(kind: &str, body: &Node, path: &str, ctx: &Ctx<'_>, ecs: EcsMode) -> Option<Box<dyn Step>> {
    let built: Result<Box<dyn Step>, StepError> = match kind {
        "grok" => return super::grok::grok_step(body, path, ctx, ecs),
        "regex" => {
            let b: RegexBody = from_node(body, path, ctx)?;
            let mut patterns = b.patterns;
            if let Some(p) = b.pattern {
                patterns.insert(0, p);
            }
            RegexStep::new(RegexConfig {
                field: b.field,
                patterns,
                keep_empty_captures: b.keep_empty_captures,
                failure: failure(b.on_failure, b.tag_on_failure, "_regexparsefailure"),
            })
            .map(|s| Box::new(s) as Box<dyn Step>)
        }
        "json" => {
            let b: JsonBody = from_node(body, path, ctx)?;
            Ok(Box::new(JsonStep::new(JsonConfig {
                field: b.field,
                target: b.target,
                failure: failure(b.on_failure, b.tag_on_failure, "_jsonparsefailure"),
            })))
        }
        "kv" => {
            let b: KvBody = from_node(body, path, ctx)?;
            let d = KvConfig::default();
            Ok(Box::new(KvStep::new(KvConfig {
                field: b.field,
                field_split: b.field_split.unwrap_or(d.field_split),
                value_split: b.value_split.unwrap_or(d.value_split),
                trim: b.trim,
                include_keys: b.include_keys,
                exclude_keys: b.exclude_keys,
                target: b.target,
                prefix: b.prefix,
            })))
        }
        "date" => {
            let b: DateBody = from_node(body, path, ctx)?;
            DateStep::new(DateConfig {
                field: b.field,
                formats: b.formats,
                timezone: b.timezone,
                target: b.target.unwrap_or_else(|| "@timestamp".into()),
                failure: failure(b.on_failure, b.tag_on_failure, "_dateparsefailure"),
            })
            .map(|s| Box::new(s) as Box<dyn Step>)
        }
        "rename" => {
            let pairs = pairs(body, path, ctx)?
                .into_iter()
                .filter_map(|(k, v, p)| {
                    from_node::<String>(v, &p, ctx)
                        .map(|to| (FieldPath::new(&k), FieldPath::new(&to)))
                })
                .collect();
            Ok(Box::new(RenameStep(pairs)))
        }
        "remove" => Ok(Box::new(RemoveStep(fields(body, path, ctx)?))),
        "lowercase" | "uppercase" => Ok(Box::new(CaseStep {
            fields: fields(body, path, ctx)?,
            upper: kind == "uppercase",
        })),
        "set" => {
            let pairs = pairs(body, path, ctx)?
                .into_iter()
                .filter_map(|(k, v, p)| {
                    let value = from_node::<Value>(v, &p, ctx)?;
                    let value = match value {
                        Value::String(s) if Template::parse(&s).has_fields() => {
                            SetValue::Template(Template::parse(&s))
                        }
                        other => SetValue::Literal(other),
                    };
                    Some((FieldPath::new(&k), value))
                })
                .collect();
            Ok(Box::new(SetStep(pairs)))
        }
        "convert" => {
            let fields = pairs(body, path, ctx)?
                .into_iter()
                .filter_map(|(k, v, p)| {
                    let c = match from_node::<RawConversion>(v, &p, ctx)? {
                        RawConversion::Integer => Conversion::Integer,
                        RawConversion::Float => Conversion::Float,
                        RawConversion::Boolean => Conversion::Boolean,
                        RawConversion::String => Conversion::String,
                    };
                    Some((FieldPath::new(&k), c))
                })
                .collect();
            Ok(Box::new(ConvertStep {
                fields,
                failure: Failure::tag("_convertfailure"),
            }))
        }
        "drop" => {
            // `drop:` (empty) or `drop: { if: COND }`.
            match &body.kind {
                NodeKind::Map(entries) if !entries.is_empty() => {
                    for (k, _) in entries {
                        if k.as_str() != Some("if") {
                            ctx.push(ConfigError::UnknownKey {
                                at: ctx.at(k),
                                path: path.to_string(),
                                key: k.as_str().unwrap_or_default().to_string(),
                                suggestion: None,
                                expected: "if".into(),
                            });
                        }
                    }
                    let cond = body
                        .get("if")
                        .and_then(|c| condition(c, &join(path, "if"), ctx));
                    return cond.map(|c| Box::new(ConditionalDrop(c)) as Box<dyn Step>);
                }
                _ if body.is_null() || body.as_map().is_some() => Ok(Box::new(DropStep)),
                _ => {
                    ctx.wrong_type(body, path, "nothing, or a mapping with `if`");
                    return None;
                }
            }
        }
        _ => return None,
    };
    match built {
        Ok(s) => Some(s),
        Err(e) => {
            step_error(body, path, e, ctx);
            None
        }
    }
}

/// `drop: { if: COND }`: drops the events for which COND holds.
struct ConditionalDrop(Condition);

impl Step for ConditionalDrop {
    fn name(&self) -> &str {
        "drop"
    }
    fn apply(&self, event: &mut crate::event::Event) -> crate::cleaner::StepOutcome {
        if self.0.eval(event) {
            crate::cleaner::StepOutcome::Drop
        } else {
            crate::cleaner::StepOutcome::Continue
        }
    }
}

/// The entries of a `field: value` mapping, with each value's YAML path.
fn pairs<'n>(node: &'n Node, path: &str, ctx: &Ctx<'_>) -> Option<Vec<(String, &'n Node, String)>> {
    let Some(entries) = node.as_map() else {
        ctx.wrong_type(node, path, "a mapping of field: value");
        return None;
    };
    Some(
        entries
            .iter()
            .map(|(k, v)| {
                let k = k.as_str().unwrap_or_default().to_string();
                let p = join(path, &k);
                (k, v, p)
            })
            .collect(),
    )
}

/// A list of field names (or one name).
fn fields(node: &Node, path: &str, ctx: &Ctx<'_>) -> Option<Vec<FieldPath>> {
    if let NodeKind::Scalar { value, .. } = &node.kind
        && !node.is_null()
    {
        return Some(vec![FieldPath::new(value)]);
    }
    let list: Vec<String> = from_node(node, path, ctx)?;
    Some(list.iter().map(|f| FieldPath::new(f)).collect())
}

/// Parses a condition (see docs/steps.md).
pub fn condition(node: &Node, path: &str, ctx: &Ctx<'_>) -> Option<Condition> {
    let entries = match node.as_map() {
        Some(e) if e.len() == 1 => e,
        _ => {
            ctx.wrong_type(
                node,
                path,
                &format!("a mapping with one operator ({})", OPERATORS.join(", ")),
            );
            return None;
        }
    };
    let (k, v) = &entries[0];
    let op = k.as_str().unwrap_or_default();
    let p = join(path, op);
    let field_map =
        |build: &dyn Fn(FieldPath, &Node, &str) -> Option<Condition>| -> Option<Condition> {
            let pairs = pairs(v, &p, ctx)?;
            if pairs.is_empty() {
                ctx.wrong_type(v, &p, "a mapping of field: value");
                return None;
            }
            let mut all: Vec<Condition> = Vec::new();
            for (f, n, np) in pairs {
                all.push(build(FieldPath::new(&f), n, &np)?);
            }
            Some(if all.len() == 1 {
                all.remove(0)
            } else {
                Condition::And(all)
            })
        };
    let compare = |c: Compare| {
        field_map(&|f, n, np| {
            let x = from_node::<f64>(n, np, ctx)?;
            Some(Condition::Compare(f, c, x))
        })
    };
    let list = || -> Option<Vec<Condition>> {
        let NodeKind::Seq(items) = &v.kind else {
            ctx.wrong_type(v, &p, "a list of conditions");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            out.push(condition(item, &index(&p, i), ctx)?);
        }
        Some(out)
    };
    match op {
        "exists" => Some(Condition::Exists(FieldPath::new(&from_node::<String>(
            v, &p, ctx,
        )?))),
        "has_tag" => Some(Condition::HasTag(from_node::<String>(v, &p, ctx)?)),
        "equals" => {
            field_map(&|f, n, np| Some(Condition::Equals(f, from_node::<Value>(n, np, ctx)?)))
        }
        "not_equals" => {
            field_map(&|f, n, np| Some(Condition::NotEquals(f, from_node::<Value>(n, np, ctx)?)))
        }
        "gt" => compare(Compare::Gt),
        "gte" => compare(Compare::Gte),
        "lt" => compare(Compare::Lt),
        "lte" => compare(Compare::Lte),
        "matches" => field_map(&|f, n, np| {
            let re = from_node::<String>(n, np, ctx)?;
            match regex::Regex::new(&re) {
                Ok(r) => Some(Condition::Matches(f, r)),
                Err(e) => {
                    ctx.invalid(
                        n,
                        np,
                        format!(
                            "bad regular expression: {}",
                            crate::cleaner::error::regex_message(&e)
                        ),
                        "a regular expression",
                    );
                    None
                }
            }
        }),
        "and" => list().map(Condition::And),
        "or" => list().map(Condition::Or),
        "not" => condition(v, &p, ctx).map(|c| Condition::Not(Box::new(c))),
        _ => {
            ctx.push(ConfigError::UnknownKey {
                at: ctx.at(k),
                path: path.to_string(),
                key: op.to_string(),
                suggestion: super::error::did_you_mean(op, OPERATORS.iter().copied()),
                expected: OPERATORS.join(", "),
            });
            None
        }
    }
}
