//! The test server's documents: indices of documents by `_id`, with Elasticsearch's bulk
//! semantics (index overwrites and bumps `_version`, create conflicts with 409, auto ids) and
//! its answer shapes.

use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt::Write;

/// Maps keyed by ids: hashbrown with its default hasher (foldhash), so that the server's
/// hashing stays small next to the client's work in benchmarks that run both on one machine,
/// and `entry_ref` finds or inserts a key in one lookup.
pub type HashMap<K, V> = hashbrown::HashMap<K, V>;

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

/// What the server knows of one `_id` of an index: how often it was received, and the
/// document stored under it, if any (one map for both: one lookup per item).
#[derive(Debug, Default)]
struct IdEntry {
    seen: u32,
    doc: Option<StoredDoc>,
}

/// One index.
#[derive(Debug, Default)]
pub struct Index {
    ids: HashMap<String, IdEntry>,
    /// Documents stored.
    live: usize,
    /// Whether a document was ever stored (an index that only received items that failed
    /// does not exist).
    exists: bool,
    next_seq: u64,
}

impl Index {
    /// Documents stored.
    pub fn len(&self) -> usize {
        self.live
    }

    /// The document stored under `id`.
    pub fn get(&self, id: &str) -> Option<&StoredDoc> {
        self.ids.get(id)?.doc.as_ref()
    }

    /// Every stored document with its `_id`.
    pub fn docs(&self) -> impl Iterator<Item = (&String, &StoredDoc)> {
        self.ids
            .iter()
            .filter_map(|(id, e)| e.doc.as_ref().map(|d| (id, d)))
    }
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
#[derive(Debug)]
pub struct Store {
    /// Indices by name (some only received failed items: see [`Store::index`]).
    indices: HashMap<String, Index>,
    auto_id: u64,
    /// Whether documents keep their source (else an empty one: see `EsServer::keep_sources`).
    pub keep_sources: bool,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            indices: HashMap::default(),
            auto_id: 0,
            keep_sources: true,
        }
    }
}

/// The result of one bulk request.
pub struct BulkResult {
    /// The JSON answer.
    pub body: String,
    /// Items with an error.
    pub errors: usize,
}

/// `s` as a JSON string (serde_json only when something needs escaping).
fn esc(s: &str) -> String {
    if s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
    } else {
        format!("\"{s}\"")
    }
}

/// A response's `filter_path`: dotted paths where `*` matches any one key; a path keeps the
/// whole value it names.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPath(Vec<Vec<String>>);

impl FilterPath {
    /// The `filter_path` of a query string, if any.
    pub fn from_query(query: &str) -> Option<FilterPath> {
        let value = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("filter_path="))?
            .replace("%2C", ",")
            .replace("%2c", ",")
            .replace("%2A", "*")
            .replace("%2a", "*");
        let paths: Vec<Vec<String>> = value
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| p.split('.').map(str::to_string).collect())
            .collect();
        (!paths.is_empty()).then_some(FilterPath(paths))
    }

    /// True if the value at `path` is kept whole.
    fn keeps(&self, path: &[&str]) -> bool {
        self.0
            .iter()
            .any(|f| f.len() <= path.len() && f.iter().zip(path).all(|(a, b)| a == "*" || a == b))
    }

    /// True if something at or under `path` is kept.
    fn reaches(&self, path: &[&str]) -> bool {
        self.0
            .iter()
            .any(|f| f.iter().zip(path).all(|(a, b)| a == "*" || a == b))
    }

    /// `v` filtered (None when nothing of it is kept), as Elasticsearch filters a response.
    pub fn apply(&self, v: &Value) -> Option<Value> {
        self.apply_at(v, &mut Vec::new())
    }

    fn apply_at<'a>(&self, v: &'a Value, path: &mut Vec<&'a str>) -> Option<Value> {
        if self.keeps(path) {
            return Some(v.clone());
        }
        if !self.reaches(path) {
            return None;
        }
        match v {
            Value::Object(m) => {
                let mut out = serde_json::Map::new();
                for (k, x) in m {
                    path.push(k);
                    if let Some(y) = self.apply_at(x, path) {
                        out.insert(k.clone(), y);
                    }
                    path.pop();
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            // Array elements are addressed by the array's own path.
            Value::Array(items) => {
                let kept: Vec<Value> = items
                    .iter()
                    .filter_map(|x| self.apply_at(x, path))
                    .collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            _ => None,
        }
    }

    /// True if, of a bulk item, exactly `status` and `error` are kept (what the sink asks
    /// for): such items are written directly in that shape.
    fn items_status_and_error_only(&self) -> bool {
        const FIELDS: [&str; 9] = [
            "_index",
            "_id",
            "_version",
            "result",
            "_shards",
            "_seq_no",
            "_primary_term",
            "status",
            "error",
        ];
        FIELDS.iter().all(|f| {
            let kept = ["index", "create", "delete"]
                .iter()
                .all(|op| self.keeps(&["items", op, f]));
            kept == matches!(*f, "status" | "error")
        })
    }
}

/// An action line's metadata (typed: the common case parses without building a `Value`).
#[derive(Deserialize)]
struct Meta<'a> {
    #[serde(borrow, default)]
    _index: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    _id: Option<Cow<'a, str>>,
}

/// An action line: `{"<op>": {<meta>}}`.
#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Action<'a> {
    #[serde(borrow)]
    Index(Meta<'a>),
    #[serde(borrow)]
    Create(Meta<'a>),
    #[serde(borrow)]
    Update(Meta<'a>),
    #[serde(borrow)]
    Delete(Meta<'a>),
}

/// Parses an action line, with Elasticsearch's messages for the malformed ones.
fn parse_action(line: &[u8]) -> Result<(&'static str, Meta<'_>), String> {
    if let Ok(a) = serde_json::from_slice::<Action>(line) {
        return Ok(match a {
            Action::Index(m) => ("index", m),
            Action::Create(m) => ("create", m),
            Action::Update(m) => ("update", m),
            Action::Delete(m) => ("delete", m),
        });
    }
    let action: Value =
        serde_json::from_slice(line).map_err(|e| format!("Malformed action/metadata line: {e}"))?;
    let (op, _) = action
        .as_object()
        .and_then(|m| m.iter().next())
        .ok_or("Malformed action/metadata line, expected an object")?;
    Err(format!(
        "Malformed action/metadata line, expected one of [create, delete, index, update] but found [{op}]"
    ))
}

#[allow(clippy::too_many_arguments)]
fn item_error(
    out: &mut String,
    short: bool,
    action: &str,
    index: &str,
    id: &str,
    status: u16,
    kind: &str,
    reason: &str,
) {
    if short {
        let _ = write!(
            out,
            r#"{{"{action}":{{"status":{status},"error":{{"type":"{kind}","reason":{},"index":{},"shard":"0","index_uuid":"aBcDeFgHiJkLmNoPqRsTuV"}}}}}}"#,
            esc(reason),
            esc(index),
        );
        return;
    }
    let _ = write!(
        out,
        r#"{{"{action}":{{"_index":{},"_id":{},"status":{status},"error":{{"type":"{kind}","reason":{},"index":{},"shard":"0","index_uuid":"aBcDeFgHiJkLmNoPqRsTuV"}}}}}}"#,
        esc(index),
        esc(id),
        esc(reason),
        esc(index),
    );
}

/// The value for `key`, inserted if absent (one lookup; the key is allocated only when
/// inserted).
fn entry<'m, V: Default>(map: &'m mut HashMap<String, V>, key: &str) -> &'m mut V {
    map.entry_ref(key).or_default()
}

impl Store {
    /// The index `name`, if it exists (a document was stored in it).
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indices.get(name).filter(|i| i.exists)
    }

    /// Makes room for `ids` documents in `index` (which does not exist until one is stored),
    /// so that a benchmark's server does not rehash and fault in a growing table mid-run.
    pub fn reserve(&mut self, index: &str, ids: usize) {
        entry(&mut self.indices, index).ids.reserve(ids);
    }

    /// Every existing index, by name.
    pub fn indices(&self) -> impl Iterator<Item = (&String, &Index)> {
        self.indices.iter().filter(|(_, i)| i.exists)
    }

    /// Times `index/id` was received in a bulk request.
    pub fn times_seen(&self, index: &str, id: &str) -> u32 {
        self.indices
            .get(index)
            .and_then(|i| i.ids.get(id))
            .map_or(0, |e| e.seen)
    }

    /// Applies a bulk body (already decompressed). `default_index` comes from the URL.
    /// `rule` may inject a per-item failure. Returns the answer, or an error answer (400) for a
    /// malformed request.
    pub fn bulk(
        &mut self,
        body: &bytes::Bytes,
        default_index: Option<&str>,
        filter: Option<&FilterPath>,
        rule: &mut dyn FnMut(&ItemCtx) -> Option<ItemFault>,
    ) -> Result<BulkResult, String> {
        // Items in the filtered shape the sink asks for, written directly; any other filter is
        // applied to the whole answer at the end.
        let short = filter.is_some_and(FilterPath::items_status_and_error_only);
        let started = std::time::Instant::now();
        // Lines found with memchr (a byte-by-byte split was a sixth of the server's time).
        let mut lines = memchr::memchr_iter(b'\n', body)
            .chain(std::iter::once(body.len()))
            .scan(0, |start, end| {
                let line = &body[*start..end];
                *start = end + 1;
                Some(line)
            })
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace));
        let mut items = String::with_capacity(body.len() / 4);
        let mut errors = 0usize;
        let mut first = true;
        while let Some(action_line) = lines.next() {
            let (op, meta) = parse_action(action_line)?;
            let index: &str = meta
                ._index
                .as_deref()
                .or(default_index)
                .ok_or("Validation Failed: 1: index is missing;")?;
            let given_id = meta._id.as_deref();
            let source: &[u8] = match op {
                "delete" => &body[..0],
                _ => lines
                    .next()
                    .ok_or("bulk request must be terminated by a newline")?,
            };
            if !first {
                items.push(',');
            }
            first = false;
            let idx = entry(&mut self.indices, index);
            // The id's entry (one lookup), counting this receipt.
            let mut slot = given_id.map(|id| {
                let e = entry(&mut idx.ids, id);
                e.seen += 1;
                e
            });
            let ctx = ItemCtx {
                action: op,
                index,
                id: given_id,
                source,
                seen: slot.as_ref().map_or(0, |e| e.seen - 1),
            };
            let id_for_err = given_id.unwrap_or_default();
            if let Some(fault) = rule(&ctx) {
                errors += 1;
                match fault {
                    ItemFault::TooManyRequests => item_error(
                        &mut items,
                        short,
                        op,
                        index,
                        id_for_err,
                        429,
                        "es_rejected_execution_exception",
                        "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=0]",
                    ),
                    ItemFault::Unavailable => item_error(
                        &mut items,
                        short,
                        op,
                        index,
                        id_for_err,
                        503,
                        "unavailable_shards_exception",
                        "[0] primary shard is not active",
                    ),
                    ItemFault::MapperParsing(r) => item_error(
                        &mut items,
                        short,
                        op,
                        index,
                        id_for_err,
                        400,
                        "mapper_parsing_exception",
                        &r,
                    ),
                }
                continue;
            }
            if op == "delete" || op == "update" {
                let id = id_for_err;
                let found = op == "delete" && slot.as_mut().and_then(|e| e.doc.take()).is_some();
                if found {
                    idx.live -= 1;
                }
                if op == "update" {
                    errors += 1;
                    item_error(
                        &mut items,
                        short,
                        op,
                        index,
                        id,
                        400,
                        "action_request_validation_exception",
                        "update is not supported by the test server",
                    );
                } else if short {
                    let _ = write!(
                        items,
                        r#"{{"delete":{{"status":{}}}}}"#,
                        if found { 200 } else { 404 }
                    );
                } else {
                    let _ = write!(
                        items,
                        r#"{{"delete":{{"_index":{},"_id":{},"result":"{}","status":{}}}}}"#,
                        esc(index),
                        esc(id),
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
                    short,
                    op,
                    index,
                    id_for_err,
                    400,
                    "document_parsing_exception",
                    "[1:1] failed to parse: not a JSON object",
                );
                continue;
            }
            let (id, slot): (Cow<str>, &mut IdEntry) = match slot {
                Some(e) => (Cow::Borrowed(id_for_err), e),
                None => {
                    self.auto_id += 1;
                    let id = format!("auto{:016x}", self.auto_id);
                    let e = entry(&mut idx.ids, &id);
                    (Cow::Owned(id), e)
                }
            };
            let seq_no = idx.next_seq;
            match slot.doc.as_mut() {
                Some(existing) if op == "create" => {
                    errors += 1;
                    let reason = format!(
                        "[{id}]: version conflict, document already exists (current version [{}])",
                        existing.version
                    );
                    item_error(
                        &mut items,
                        short,
                        op,
                        index,
                        &id,
                        409,
                        "version_conflict_engine_exception",
                        &reason,
                    );
                    continue;
                }
                Some(existing) => {
                    existing.source = kept(body, source, self.keep_sources);
                    existing.version += 1;
                    existing.seq_no = seq_no;
                    let v = existing.version;
                    idx.next_seq += 1;
                    write_ok(&mut items, short, op, index, &id, v, "updated", 200, seq_no);
                }
                None => {
                    slot.doc = Some(StoredDoc {
                        source: kept(body, source, self.keep_sources),
                        version: 1,
                        seq_no,
                    });
                    idx.live += 1;
                    idx.exists = true;
                    idx.next_seq += 1;
                    write_ok(&mut items, short, op, index, &id, 1, "created", 201, seq_no);
                }
            }
        }
        let took = started.elapsed().as_millis();
        let body = match filter {
            None => format!(
                r#"{{"took":{took},"errors":{},"items":[{items}]}}"#,
                errors > 0
            ),
            Some(f) if short => {
                let mut b = String::with_capacity(items.len() + 64);
                b.push('{');
                if f.keeps(&["took"]) {
                    let _ = write!(b, r#""took":{took},"#);
                }
                if f.keeps(&["errors"]) {
                    let _ = write!(b, r#""errors":{},"#, errors > 0);
                }
                let _ = write!(b, r#""items":[{items}]}}"#);
                b
            }
            Some(f) => {
                let full: Value = serde_json::from_str(&format!(
                    r#"{{"took":{took},"errors":{},"items":[{items}]}}"#,
                    errors > 0
                ))
                .map_err(|e| format!("test server: bad answer: {e}"))?;
                f.apply(&full)
                    .unwrap_or_else(|| Value::Object(Default::default()))
                    .to_string()
            }
        };
        Ok(BulkResult { body, errors })
    }
}

/// The stored form of `source` (a slice of `body`): itself, or nothing when sources are not
/// kept.
fn kept(body: &bytes::Bytes, source: &[u8], keep: bool) -> bytes::Bytes {
    if keep {
        body.slice_ref(source)
    } else {
        bytes::Bytes::new()
    }
}

#[allow(clippy::too_many_arguments)]
fn write_ok(
    out: &mut String,
    short: bool,
    op: &str,
    index: &str,
    id: &str,
    version: u64,
    result: &str,
    status: u16,
    seq_no: u64,
) {
    if short {
        let _ = write!(out, r#"{{"{op}":{{"status":{status}}}}}"#);
        return;
    }
    let _ = write!(
        out,
        r#"{{"{op}":{{"_index":{},"_id":{},"_version":{version},"result":"{result}","_shards":{{"total":2,"successful":1,"failed":0}},"_seq_no":{seq_no},"_primary_term":1,"status":{status}}}}}"#,
        esc(index),
        esc(id),
    );
}
