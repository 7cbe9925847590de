//! Bulk encoding: one event → its action line and its source line (NDJSON), ready to be
//! concatenated into a `_bulk` body.

use super::config::{DocumentId, ElasticsearchConfig, OpType};
use super::template::{Template, TemplateError};
use crate::event::Event;
use crate::json;

/// Why an event could not be encoded (it is rejected, never sent).
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The index or id template needs a field the event lacks.
    #[error(transparent)]
    Template(#[from] TemplateError),
}

/// Turns events into bulk lines per the sink's `index`, `op_type` and `document_id`.
#[derive(Debug, Clone)]
pub struct Encoder {
    index: Template,
    op: OpType,
    id: DocumentId,
    id_template: Option<Template>,
    index_buf: String,
    id_buf: String,
}

impl Encoder {
    /// An encoder for `cfg`.
    pub fn new(cfg: &ElasticsearchConfig) -> Self {
        let id_template = match &cfg.document_id {
            DocumentId::Template(t) => Some(Template::new(t)),
            _ => None,
        };
        Encoder {
            index: Template::new(&cfg.index),
            op: cfg.op_type,
            id: cfg.document_id.clone(),
            id_template,
            index_buf: String::new(),
            id_buf: String::new(),
        }
    }

    /// Appends `event`'s action line and source line (each ending in `\n`) to `out`. On error
    /// (a template names a missing field) nothing is written.
    pub fn encode(&mut self, event: &Event, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.index.render_into(event, &mut self.index_buf)?;
        let id = match (&self.id, &self.id_template) {
            (DocumentId::SourceId, _) => event.source_id.as_deref(),
            (DocumentId::Template(_), Some(t)) => {
                t.render_into(event, &mut self.id_buf)?;
                Some(self.id_buf.as_str())
            }
            _ => None,
        };
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(self.op.as_str().as_bytes());
        out.extend_from_slice(b"\":{\"_index\":");
        json::write_str(&self.index_buf, out);
        if let Some(id) = id {
            out.extend_from_slice(b",\"_id\":");
            json::write_str(id, out);
        }
        out.extend_from_slice(b"}}\n");
        event.write_sink_json(out);
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value;
    use crate::value::Value;

    fn event(v: Value, sid: Option<&str>) -> Event {
        Event {
            fields: v.as_object().cloned().unwrap_or_default(),
            source_id: sid.map(str::to_string),
        }
    }

    fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect()
    }

    #[test]
    fn index_action_with_source_id_and_no_metadata() {
        let cfg = ElasticsearchConfig {
            index: "logs-%{service}-%{+yyyy.MM.dd}".into(),
            ..Default::default()
        };
        let mut enc = Encoder::new(&cfg);
        let mut e = event(
            value!({"service": "web", "@timestamp": "2024-05-06T07:08:09Z", "message": "a\"b"}),
            Some("fp:12"),
        );
        e.insert("@metadata.secret", value!(1));
        e.insert("a_last", value!(true));
        let mut out = Vec::new();
        enc.encode(&e, &mut out).unwrap();
        let l = lines(&out);
        assert_eq!(
            l[0],
            value!({"index": {"_index": "logs-web-2024.05.06", "_id": "fp:12"}})
        );
        assert_eq!(l[1], Value::Object(e.to_sink_value()));
        // Fields in the event's order (`value!` builds objects sorted; `a_last` came last).
        assert_eq!(
            std::str::from_utf8(out.split(|b| *b == b'\n').nth(1).unwrap()).unwrap(),
            r#"{"@timestamp":"2024-05-06T07:08:09Z","message":"a\"b","service":"web","a_last":true}"#
        );
        assert!(out.ends_with(b"\n"));
    }

    #[test]
    fn create_with_templated_id_and_without_id() {
        let mut cfg = ElasticsearchConfig {
            index: "x".into(),
            op_type: OpType::Create,
            document_id: DocumentId::Template("%{trace.id}".into()),
            ..Default::default()
        };
        let e = event(value!({"trace": {"id": "t1"}}), Some("sid"));
        let mut out = Vec::new();
        Encoder::new(&cfg).encode(&e, &mut out).unwrap();
        assert_eq!(
            lines(&out)[0],
            value!({"create": {"_index": "x", "_id": "t1"}})
        );

        cfg.document_id = DocumentId::None;
        out.clear();
        Encoder::new(&cfg).encode(&e, &mut out).unwrap();
        assert_eq!(lines(&out)[0], value!({"create": {"_index": "x"}}));
    }

    #[test]
    fn template_error_leaves_buffer_untouched() {
        let cfg = ElasticsearchConfig {
            index: "logs-%{service}".into(),
            ..Default::default()
        };
        let mut out = b"prefix".to_vec();
        let err = Encoder::new(&cfg)
            .encode(&event(value!({}), None), &mut out)
            .unwrap_err();
        assert!(err.to_string().contains("service"));
        assert_eq!(out, b"prefix");
    }
}
