//! The test server's documents: indices of documents by `_id`, with Elasticsearch's bulk
//! semantics (index overwrites and bumps `_version`, create conflicts with 409, auto ids) and
//! its answer shapes.

use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Write;

/// A stored document.
#[derive(Debug, Clone)]
pub struct StoredDoc {
    /// The `_source` as received (a slice of the request body, not a copy).
    pub source: bytes::Bytes,
    /// `_version`: 1 when created, +1 on each overwrite.
    pub version: u64,
    /// `_seq_no` within the index.
    pub seq_no: u64,
}

impl StoredDoc {
    /// The source parsed.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.source).unwrap_or(Value::Null)
    }
}

/// One index.
#[derive(Debug, Default)]
pub struct Index {
    /// Documents by `_id`.
    pub docs: HashMap<String, StoredDoc>,
    next_seq: u64,
}

/// What a fault rule sees of one bulk item.
#[derive(Debug)]
pub struct ItemCtx<'a> {
    /// The action (`index`, `create`, …).
    pub action: &'a str,
    /// The target index.
    pub index: &'a str,
    /// The `_id`, if given.
    pub id: Option<&'a str>,
    /// The raw source line.
    pub source: &'a [u8],
    /// How many times this `_index`/`_id` was received before (0 on first sight).
    pub seen: u32,
}

impl ItemCtx<'_> {
    /// The source parsed (`Null` if not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(self.source).unwrap_or(Value::Null)
    }
}

/// A per-item failure injected by a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemFault {
    /// 429 `es_rejected_execution_exception`.
    TooManyRequests,
    /// 503 `unavailable_shards_exception`.
    Unavailable,
    /// 400 `mapper_parsing_exception` with this reason.
    MapperParsing(String),
}

/// The in-memory document store.
#[derive(Debug, Default)]
pub struct Store {
    /// Indices by name.
    pub indices: HashMap<String, Index>,
    /// Times each `index/id` was received in a bulk request.
    pub seen: HashMap<String, u32>,
    auto_id: u64,
}

/// The result of one bulk request.
pub struct BulkResult {
    /// The JSON answer.
    pub body: String,
    /// Items with an error.
    pub errors: usize,
}

fn esc(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn item_error(
    out: &mut String,
    action: &str,
    index: &str,
    id: &str,
    status: u16,
    kind: &str,
    reason: &str,
) {
    let _ = write!(
        out,
        r#"{{"{action}":{{"_index":{},"_id":{},"status":{status},"error":{{"type":"{kind}","reason":{},"index":{},"shard":"0","index_uuid":"aBcDeFgHiJkLmNoPqRsTuV"}}}}}}"#,
        esc(index),
        esc(id),
        esc(reason),
        esc(index),
    );
}

impl Store {
    /// Applies a bulk body (already decompressed). `default_index` comes from the URL.
    /// `rule` may inject a per-item failure. Returns the answer, or an error answer (400) for a
    /// malformed request.
    pub fn bulk(
        &mut self,
        body: &bytes::Bytes,
        default_index: Option<&str>,
        rule: &mut dyn FnMut(&ItemCtx) -> Option<ItemFault>,
    ) -> Result<BulkResult, String> {
        let started = std::time::Instant::now();
        let mut lines = body
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
        let mut items = String::with_capacity(body.len() / 4);
        let mut errors = 0usize;
        let mut first = true;
        while let Some(action_line) = lines.next() {
            let action: Value = serde_json::from_slice(action_line)
                .map_err(|e| format!("Malformed action/metadata line: {e}"))?;
            let (op, meta) = action
                .as_object()
                .and_then(|m| m.iter().next())
                .ok_or("Malformed action/metadata line, expected an object")?;
            let op = op.as_str();
            let index = meta
                .get("_index")
                .and_then(Value::as_str)
                .or(default_index)
                .ok_or("Validation Failed: 1: index is missing;")?
                .to_string();
            let given_id = meta.get("_id").and_then(Value::as_str).map(str::to_string);
            let source: &[u8] = match op {
                "index" | "create" | "update" => lines
                    .next()
                    .ok_or("bulk request must be terminated by a newline")?,
                "delete" => &body[..0],
                other => {
                    return Err(format!(
                        "Malformed action/metadata line, expected one of [create, delete, index, update] but found [{other}]"
                    ));
                }
            };
            if !first {
                items.push(',');
            }
            first = false;
            let seen_key = given_id.as_ref().map(|id| format!("{index}/{id}"));
            let seen = seen_key
                .as_ref()
                .map(|k| {
                    let n = self.seen.entry(k.clone()).or_insert(0);
                    *n += 1;
                    *n - 1
                })
                .unwrap_or(0);
            let ctx = ItemCtx {
                action: op,
                index: &index,
                id: given_id.as_deref(),
                source,
                seen,
            };
            let id_for_err = given_id.clone().unwrap_or_default();
            if let Some(fault) = rule(&ctx) {
                errors += 1;
                match fault {
                    ItemFault::TooManyRequests => item_error(
                        &mut items,
                        op,
                        &index,
                        &id_for_err,
                        429,
                        "es_rejected_execution_exception",
                        "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=0]",
                    ),
                    ItemFault::Unavailable => item_error(
                        &mut items,
                        op,
                        &index,
                        &id_for_err,
                        503,
                        "unavailable_shards_exception",
                        "[0] primary shard is not active",
                    ),
                    ItemFault::MapperParsing(r) => item_error(
                        &mut items,
                        op,
                        &index,
                        &id_for_err,
                        400,
                        "mapper_parsing_exception",
                        &r,
                    ),
                }
                continue;
            }
            if op == "delete" || op == "update" {
                let id = id_for_err;
                let idx = self.indices.entry(index.clone()).or_default();
                let found = if op == "delete" {
                    idx.docs.remove(&id).is_some()
                } else {
                    false
                };
                if op == "update" {
                    errors += 1;
                    item_error(
                        &mut items,
                        op,
                        &index,
                        &id,
                        400,
                        "action_request_validation_exception",
                        "update is not supported by the test server",
                    );
                } else {
                    let _ = write!(
                        items,
                        r#"{{"delete":{{"_index":{},"_id":{},"result":"{}","status":{}}}}}"#,
                        esc(&index),
                        esc(&id),
                        if found { "deleted" } else { "not_found" },
                        if found { 200 } else { 404 }
                    );
                }
                continue;
            }
            if serde_json::from_slice::<serde::de::IgnoredAny>(source).is_err()
                || !source.trim_ascii_start().starts_with(b"{")
            {
                errors += 1;
                item_error(
                    &mut items,
                    op,
                    &index,
                    &id_for_err,
                    400,
                    "document_parsing_exception",
                    "[1:1] failed to parse: not a JSON object",
                );
                continue;
            }
            let id = match given_id {
                Some(id) => id,
                None => {
                    self.auto_id += 1;
                    format!("auto{:016x}", self.auto_id)
                }
            };
            let idx = self.indices.entry(index.clone()).or_default();
            let seq_no = idx.next_seq;
            match idx.docs.get_mut(&id) {
                Some(existing) if op == "create" => {
                    errors += 1;
                    let reason = format!(
                        "[{id}]: version conflict, document already exists (current version [{}])",
                        existing.version
                    );
                    item_error(
                        &mut items,
                        op,
                        &index,
                        &id,
                        409,
                        "version_conflict_engine_exception",
                        &reason,
                    );
                    continue;
                }
                Some(existing) => {
                    existing.source = body.slice_ref(source);
                    existing.version += 1;
                    existing.seq_no = seq_no;
                    let v = existing.version;
                    idx.next_seq += 1;
                    write_ok(&mut items, op, &index, &id, v, "updated", 200, seq_no);
                }
                None => {
                    idx.docs.insert(
                        id.clone(),
                        StoredDoc {
                            source: body.slice_ref(source),
                            version: 1,
                            seq_no,
                        },
                    );
                    idx.next_seq += 1;
                    write_ok(&mut items, op, &index, &id, 1, "created", 201, seq_no);
                }
            }
        }
        let took = started.elapsed().as_millis();
        Ok(BulkResult {
            body: format!(
                r#"{{"took":{took},"errors":{},"items":[{items}]}}"#,
                errors > 0
            ),
            errors,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn write_ok(
    out: &mut String,
    op: &str,
    index: &str,
    id: &str,
    version: u64,
    result: &str,
    status: u16,
    seq_no: u64,
) {
    let _ = write!(
        out,
        r#"{{"{op}":{{"_index":{},"_id":{},"_version":{version},"result":"{result}","_shards":{{"total":2,"successful":1,"failed":0}},"_seq_no":{seq_no},"_primary_term":1,"status":{status}}}}}"#,
        esc(index),
        esc(id),
    );
}
