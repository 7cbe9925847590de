//! What the test server can be told to do wrong ([`Faults`], [`RequiredAuth`]) and what it
//! counts ([`Stats`], [`SeenRequest`]).

use super::es_store::{ItemCtx, ItemFault};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// A per-item fault rule.
pub type ItemRule = Box<dyn FnMut(&ItemCtx) -> Option<ItemFault> + Send>;

/// Faults to inject, set from tests through [`EsServer::faults`].
#[derive(Default)]
pub struct Faults {
    /// Answer the next N bulk requests with `fail_status` (429 or 503…) as a whole.
    pub fail_next: u32,
    /// The status of whole-request failures. Default (0) means 429.
    pub fail_status: u16,
    /// Fail each bulk request as a whole with this probability (0.0–1.0).
    pub fail_probability: f64,
    /// A `Retry-After` (seconds) header on whole-request failures.
    pub retry_after: Option<u64>,
    /// Per-item failures (first matching rule wins).
    pub item_rules: Vec<ItemRule>,
    /// Delay before every answer.
    pub delay: Duration,
    /// Close the connection without answering, after reading the whole body, N times.
    pub drop_after_body: u32,
    /// Close the connection after reading only the first chunk of the body, N times.
    pub drop_mid_request: u32,
    /// Answer 413 to bulk bodies larger than this (wire bytes).
    pub max_body_bytes: Option<usize>,
}

impl Faults {
    /// Adds a per-item fault rule.
    pub fn item_rule(&mut self, rule: impl FnMut(&ItemCtx) -> Option<ItemFault> + Send + 'static) {
        self.item_rules.push(Box::new(rule));
    }

    /// 400 `mapper_parsing_exception` for items whose source matches `pred`.
    pub fn mapping_error_when(
        &mut self,
        pred: impl Fn(&serde_json::Value) -> bool + Send + 'static,
    ) {
        self.item_rule(move |ctx| {
            pred(&ctx.json()).then(|| {
                ItemFault::MapperParsing(format!(
                    "failed to parse field [status] of type [long] in document with id '{}'. Preview of field's value: 'abc'",
                    ctx.id.unwrap_or_default()
                ))
            })
        });
    }

    /// 429 for items on their first sight with probability `p`.
    pub fn reject_first_sight(&mut self, p: f64) {
        self.item_rule(move |ctx| {
            (ctx.seen == 0 && fastrand::f64() < p).then_some(ItemFault::TooManyRequests)
        });
    }
}

/// Basic or API-key credentials the server requires.
#[derive(Debug, Clone)]
pub enum RequiredAuth {
    /// `Authorization: Basic base64(user:password)`.
    Basic(String, String),
    /// `Authorization: ApiKey <key>`.
    ApiKey(String),
}

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// Method.
    pub method: String,
    /// Path (without the query).
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Counters of what the server saw.
#[derive(Debug, Default)]
pub struct Stats {
    /// Every request.
    pub requests: AtomicU64,
    /// `_bulk` requests.
    pub bulk_requests: AtomicU64,
    /// `_bulk` requests with a gzip body that decoded.
    pub gzip_bulk_requests: AtomicU64,
    /// Bulk items received.
    pub bulk_items: AtomicU64,
    /// Bulk body bytes received on the wire.
    pub body_bytes: AtomicU64,
    /// Connections closed on purpose without an answer.
    pub dropped: AtomicU64,
    /// Answers with an injected failure (whole request or 413).
    pub failed_requests: AtomicU64,
    /// Items answered with an injected fault, a conflict or a parse error.
    pub item_errors: AtomicU64,
}
