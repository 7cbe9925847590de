//! Runtime configuration of the Elasticsearch/OpenSearch sink (the YAML `sink:` block of
//! `type: elasticsearch`, after the config stage validated it).
//!
//! Every field documents its default; [`ElasticsearchConfig::default`] is what an empty
//! `sink: { type: elasticsearch }` means.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A secret string (password, API key, token). Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself: only for building the `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// The bulk action for every document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpType {
    /// `index`: create or overwrite the document with that `_id`. Default.
    #[default]
    Index,
    /// `create`: create only; a document already there is answered 409, which counts as
    /// delivered (it is our own earlier copy). Data streams need `create`.
    Create,
}

impl OpType {
    /// The action name in the bulk body.
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Index => "index",
            OpType::Create => "create",
        }
    }
}

/// Where the document `_id` comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DocumentId {
    /// The event's source id (file fingerprint + offset): deterministic, so a re-sent event
    /// overwrites (or, with `create`, is answered 409) instead of duplicating. Default. An event
    /// without a source id gets an id chosen by Elasticsearch.
    #[default]
    SourceId,
    /// A template over the event's fields, e.g. `%{[trace][id]}` (same syntax as `index`).
    Template(String),
    /// No `_id`: Elasticsearch chooses one (re-sent events then duplicate).
    None,
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain bodies. Default.
    #[default]
    None,
    /// `Content-Encoding: gzip` bodies (fast compression level).
    Gzip,
}

/// Credentials sent with every request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    /// No `Authorization` header. Default.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        user: String,
        /// Password (never logged).
        password: Secret,
    },
    /// `Authorization: ApiKey <key>`; the key as Elasticsearch hands it out (the base64 of
    /// `id:api_key`, the `encoded` field of the create-API-key answer).
    ApiKey(Secret),
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
}

/// How bulk requests are cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkConfig {
    /// Largest uncompressed body of one bulk request. Default: 5 MiB. A single document larger
    /// than this is sent alone.
    pub max_bytes: usize,
    /// Most documents in one bulk request. Default: 5000.
    pub max_docs: usize,
    /// Longest time the pipeline waits to fill a batch before handing it to the sink (see
    /// [`crate::sink::Batcher`]). Default: 1 s.
    pub flush: Duration,
    /// Ask Elasticsearch to answer with the items' statuses and errors only
    /// (`filter_path=errors,items.*.status,items.*.error,error,status`): a tenth of the answer
    /// to send, receive and read. Turn off for a server that rejects `filter_path`.
    /// Default: true.
    pub filter_response: bool,
}

impl Default for BulkConfig {
    fn default() -> Self {
        BulkConfig {
            max_bytes: 5 * 1024 * 1024,
            max_docs: 5000,
            flush: Duration::from_secs(1),
            filter_response: true,
        }
    }
}

/// TLS settings for `https://` hosts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// A PEM file of CA certificates to trust instead of the system's roots. Default: none
    /// (the operating system's trust store).
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. Dangerous: logged as a warning at start. Default: false.
    pub insecure_skip_verify: bool,
}

/// Retry policy for transient failures (429, 5xx, connection errors, timeouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// First back-off delay; each retry doubles it, with jitter. Default: 100 ms.
    pub initial: Duration,
    /// Longest back-off delay (a `Retry-After` from the server is honoured even when longer,
    /// up to 10 minutes). Default: 30 s.
    pub max: Duration,
    /// Attempts per document before it is dead-lettered; 0 retries forever (the durable log
    /// holds the data meanwhile). Default: 0.
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            max_attempts: 0,
        }
    }
}

/// What a failed healthcheck at start does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Healthcheck {
    /// Log a warning and start anyway (documents wait in the buffer). Default.
    #[default]
    Warn,
    /// Refuse to start.
    Required,
    /// Do not check.
    Off,
}

/// `scheme://user:pass@host…` with the credentials replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***@{}", &url[..scheme_end + 3], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The Elasticsearch/OpenSearch sink's configuration. Its `Debug` hides credentials, also
/// those written in host URLs.
#[derive(Clone, PartialEq, Eq)]
pub struct ElasticsearchConfig {
    /// Base URLs of the nodes (`http://host:9200`, `https://…`); requests rotate among them and
    /// skip a failing one for a back-off period. Credentials in a URL are moved to `auth`.
    /// Default: `["http://127.0.0.1:9200"]`.
    pub hosts: Vec<String>,
    /// Index name template: `%{field}` (dotted or `[a][b]` path) and `%{+yyyy.MM.dd}` (a Joda
    /// date pattern applied to the event's `@timestamp` in UTC). Default: `logs-%{+yyyy.MM.dd}`.
    pub index: String,
    /// Bulk action. Default: `index`.
    pub op_type: OpType,
    /// Document `_id`. Default: the event's source id.
    pub document_id: DocumentId,
    /// Bulk request sizing. Defaults: 5 MiB, 5000 docs, 1 s.
    pub bulk: BulkConfig,
    /// Bulk requests in flight at once. Default: 2.
    pub concurrency: usize,
    /// Request body compression. Default: none.
    pub compression: Compression,
    /// Credentials. Default: none.
    pub auth: Auth,
    /// TLS. Default: system roots, verification on.
    pub tls: TlsConfig,
    /// Retries. Defaults: 100 ms, 30 s, forever.
    pub retry: RetryConfig,
    /// Timeout of one HTTP request (connect + send + answer). Default: 30 s.
    pub timeout: Duration,
    /// Healthcheck at start. Default: warn.
    pub healthcheck: Healthcheck,
}

impl fmt::Debug for ElasticsearchConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(|h| redact_url(h)).collect();
        f.debug_struct("ElasticsearchConfig")
            .field("hosts", &hosts)
            .field("index", &self.index)
            .field("op_type", &self.op_type)
            .field("document_id", &self.document_id)
            .field("bulk", &self.bulk)
            .field("concurrency", &self.concurrency)
            .field("compression", &self.compression)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("healthcheck", &self.healthcheck)
            .finish()
    }
}

impl Default for ElasticsearchConfig {
    fn default() -> Self {
        ElasticsearchConfig {
            hosts: vec!["http://127.0.0.1:9200".to_string()],
            index: "logs-%{+yyyy.MM.dd}".to_string(),
            op_type: OpType::Index,
            document_id: DocumentId::SourceId,
            bulk: BulkConfig::default(),
            concurrency: 2,
            compression: Compression::None,
            auth: Auth::None,
            tls: TlsConfig::default(),
            retry: RetryConfig::default(),
            timeout: Duration::from_secs(30),
            healthcheck: Healthcheck::Warn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let c = ElasticsearchConfig {
            auth: Auth::Basic {
                user: "elastic".into(),
                password: "hunter2".into(),
            },
            ..Default::default()
        };
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2"), "{s}");
        let c = ElasticsearchConfig {
            hosts: vec!["https://u:pw-in-url@es:9200/x".into(), "http://es2".into()],
            ..Default::default()
        };
        let s = format!("{c:?}");
        assert!(
            s.contains("https://***@es:9200/x") && s.contains("http://es2"),
            "{s}"
        );
        assert!(!s.contains("pw-in-url"));
        let k = format!("{:?} {}", Auth::ApiKey("k3y".into()), Secret::new("k3y"));
        assert!(!k.contains("k3y"));
    }
}
