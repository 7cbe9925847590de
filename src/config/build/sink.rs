//! The `sink` section: which keys apply to which `type`, defaults, URLs, auth.

use super::{B, MIB};
use crate::config::ConfigError;
use crate::config::plan::*;
use crate::config::raw::RawPipeline;
use std::path::PathBuf;
use std::time::Duration;

impl B<'_> {
    pub(super) fn sink(&self, raw: &RawPipeline) -> SinkPlan {
        let s = &raw.sink;
        match s.kind {
            SinkKind::Stdout => {
                self.only_keys("sink", &["type"], "stdout");
                SinkPlan::Stdout
            }
            SinkKind::File => {
                self.only_keys(
                    "sink",
                    &["type", "path", "compression", "max_bytes"],
                    "file",
                );
                let path = match &s.path {
                    Some(p) if !p.is_empty() => PathBuf::from(p),
                    _ => {
                        self.ctx.push(ConfigError::MissingKey {
                            at: self.ctx.at(self.node(&["sink", "path"])),
                            path: "sink".into(),
                            key: "path".into(),
                            expected: "the output file".into(),
                        });
                        PathBuf::new()
                    }
                };
                SinkPlan::File(FileSinkPlan {
                    path,
                    compression: s.compression,
                    max_bytes: self.size(&s.max_bytes, &["sink", "max_bytes"], 100 * MIB),
                })
            }
            SinkKind::Elasticsearch | SinkKind::Opensearch => {
                let kind = if s.kind == SinkKind::Elasticsearch {
                    "elasticsearch"
                } else {
                    "opensearch"
                };
                self.only_keys(
                    "sink",
                    &[
                        "type",
                        "hosts",
                        "index",
                        "op_type",
                        "document_id",
                        "bulk",
                        "concurrency",
                        "compression",
                        "auth",
                        "tls",
                        "retry",
                        "timeout",
                        "healthcheck",
                    ],
                    kind,
                );
                SinkPlan::Search(self.search_sink(raw))
            }
        }
    }

    fn search_sink(&self, raw: &RawPipeline) -> SearchSinkPlan {
        let s = &raw.sink;
        let hosts = s
            .hosts
            .clone()
            .unwrap_or_else(|| vec!["http://127.0.0.1:9200".into()]);
        if hosts.is_empty() {
            self.invalid(
                &["sink", "hosts"],
                "no host given".into(),
                "at least one URL",
            );
        }
        for (i, h) in hosts.iter().enumerate() {
            let ok = (h.starts_with("http://") || h.starts_with("https://"))
                && h.split("://").nth(1).is_some_and(|r| !r.is_empty());
            if !ok {
                self.invalid(
                    &["sink", "hosts", &i.to_string()],
                    format!("`{h}` is not an http(s) URL"),
                    "a URL such as http://127.0.0.1:9200",
                );
            }
        }
        let document_id = match s.document_id.as_deref() {
            None => DocumentId::SourceId,
            Some("none") => DocumentId::None,
            Some(t) if t.contains("%{") => DocumentId::Template(t.to_string()),
            Some(t) => {
                self.invalid(
                    &["sink", "document_id"],
                    format!(
                        "`{t}` has no %{{field}} reference (every event would get the same id)"
                    ),
                    "a %{field} template, or `none` (omit the key for the source id)",
                );
                DocumentId::SourceId
            }
        };
        let a = &s.auth;
        let auth = match (&a.user, &a.password, &a.api_key, &a.bearer) {
            (None, None, None, None) => AuthPlan::None,
            (Some(u), Some(p), None, None) => AuthPlan::Basic {
                user: u.clone(),
                password: p.clone(),
            },
            (None, None, Some(k), None) => AuthPlan::ApiKey(k.clone()),
            (None, None, None, Some(t)) => AuthPlan::Bearer(t.clone()),
            (Some(_), None, None, None) | (None, Some(_), None, None) => {
                self.invalid(
                    &["sink", "auth"],
                    "`user` and `password` go together".into(),
                    "both `user` and `password`",
                );
                AuthPlan::None
            }
            _ => {
                self.invalid(
                    &["sink", "auth"],
                    "several authentication methods given".into(),
                    "one of: user + password, api_key, bearer",
                );
                AuthPlan::None
            }
        };
        let index = s
            .index
            .clone()
            .unwrap_or_else(|| "logs-%{+yyyy.MM.dd}".into());
        if index.is_empty() || index.matches("%{").count() != index.matches('}').count() {
            self.invalid(
                &["sink", "index"],
                format!("`{index}` is not a valid index template"),
                "an index name, with %{field} and %{+yyyy.MM.dd} references",
            );
        }
        if s.tls.ca_file.as_deref() == Some("") {
            self.invalid(
                &["sink", "tls", "ca_file"],
                "empty path".into(),
                "a PEM file",
            );
        }
        SearchSinkPlan {
            kind: s.kind,
            hosts,
            index,
            op_type: s.op_type,
            document_id,
            bulk_max_bytes: self.size(&s.bulk.max_bytes, &["sink", "bulk", "max_bytes"], 5 * MIB),
            bulk_max_docs: self.range(
                s.bulk.max_docs,
                &["sink", "bulk", "max_docs"],
                5000,
                1,
                1_000_000,
            ) as usize,
            bulk_flush: self.duration(
                &s.bulk.flush,
                &["sink", "bulk", "flush"],
                Duration::from_secs(1),
            ),
            bulk_filter_response: s.bulk.filter_response.unwrap_or(true),
            concurrency: self.range(s.concurrency, &["sink", "concurrency"], 2, 1, 64),
            compression: s.compression,
            auth,
            tls_ca_file: s.tls.ca_file.clone().map(PathBuf::from),
            tls_insecure_skip_verify: s.tls.insecure_skip_verify,
            retry_initial: self.duration(
                &s.retry.initial,
                &["sink", "retry", "initial"],
                Duration::from_millis(100),
            ),
            retry_max: self.duration(
                &s.retry.max,
                &["sink", "retry", "max"],
                Duration::from_secs(30),
            ),
            retry_max_attempts: s.retry.max_attempts.unwrap_or(0),
            timeout: self.duration(&s.timeout, &["sink", "timeout"], Duration::from_secs(30)),
            healthcheck: s.healthcheck,
        }
    }
}
