//! Reading Elasticsearch's answers: the whole-request status, and the `_bulk` body item by item.

use super::config::OpType;
use serde::Deserialize;

/// What to do with one document after a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    /// Stored (2xx), or 409 on `create` (our own earlier copy is there).
    Acked,
    /// Transient (429, 5xx): send it again after a back-off.
    Retry {
        /// The item's status.
        status: u16,
        /// The error type and reason.
        reason: String,
    },
    /// Refused for good (mapping/parsing errors and other 4xx): dead letter.
    Reject {
        /// The item's status.
        status: u16,
        /// The error type and reason.
        reason: String,
    },
}

/// What to do with a whole request, by HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx: read the items.
    Items,
    /// 413: the body is too large; split it.
    TooLarge,
    /// 408, 429, 5xx, and 401/403/404 (a credential, permission or proxy problem an operator
    /// can fix while the data waits in the buffer): retry the whole request.
    Retry,
    /// Any other status (a malformed request): reject every document with the reason.
    Reject,
}

/// Classifies a whole-request HTTP status.
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Items,
        413 => StatusClass::TooLarge,
        401 | 403 | 404 | 408 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::Reject,
    }
}

/// The body of a bulk answer could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// Not the JSON shape of a bulk answer.
    #[error("unreadable bulk response: {0}")]
    Json(#[from] serde_json::Error),
    /// A different number of items than documents sent.
    #[error("bulk response has {got} items for {sent} documents")]
    ItemCount {
        /// Items in the answer.
        got: usize,
        /// Documents sent.
        sent: usize,
    },
}

#[derive(Deserialize)]
struct ErrorsOnly {
    errors: bool,
}

#[derive(Deserialize)]
struct BulkBody {
    #[serde(default)]
    items: Vec<ItemWrap>,
}

#[derive(Deserialize)]
enum ItemWrap {
    #[serde(rename = "index")]
    Index(Item),
    #[serde(rename = "create")]
    Create(Item),
    #[serde(rename = "update")]
    Update(Item),
    #[serde(rename = "delete")]
    Delete(Item),
}

#[derive(Deserialize)]
struct Item {
    status: u16,
    #[serde(default)]
    error: Option<EsError>,
}

/// An Elasticsearch error object (`{"type", "reason", "caused_by"}`).
#[derive(Debug, Deserialize)]
pub struct EsError {
    /// The exception type, e.g. `mapper_parsing_exception`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The human-readable reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// The underlying cause.
    #[serde(default)]
    pub caused_by: Option<Box<EsError>>,
}

impl EsError {
    /// `type: reason (caused by type: reason)`.
    pub fn describe(&self) -> String {
        let mut s = self.kind.clone();
        if let Some(r) = &self.reason {
            s.push_str(": ");
            s.push_str(r);
        }
        if let Some(c) = &self.caused_by {
            s.push_str(" (caused by ");
            s.push_str(&c.describe());
            s.push(')');
        }
        s
    }
}

/// Classifies the items of a 2xx bulk answer for `sent` documents, in order.
pub fn classify_items(
    body: &[u8],
    op: OpType,
    sent: usize,
) -> Result<Vec<ItemOutcome>, ResponseError> {
    // The common case: no errors, no need to read the items. Elasticsearch writes `errors`
    // before `items`, so the head of the body tells without parsing megabytes of items.
    if says_no_errors(body) || !serde_json::from_slice::<ErrorsOnly>(body)?.errors {
        return Ok(vec![ItemOutcome::Acked; sent]);
    }
    let parsed: BulkBody = serde_json::from_slice(body)?;
    if parsed.items.len() != sent {
        return Err(ResponseError::ItemCount {
            got: parsed.items.len(),
            sent,
        });
    }
    Ok(parsed
        .items
        .into_iter()
        .map(|w| {
            let item = match w {
                ItemWrap::Index(i)
                | ItemWrap::Create(i)
                | ItemWrap::Update(i)
                | ItemWrap::Delete(i) => i,
            };
            classify_item(item, op)
        })
        .collect())
}

/// True if `"errors":false` appears at the top level, before `"items"`, in the first bytes.
fn says_no_errors(body: &[u8]) -> bool {
    let head = &body[..body.len().min(256)];
    let find = |pat: &[u8]| head.windows(pat.len()).position(|w| w == pat);
    match (find(b"\"errors\":false"), find(b"\"items\"")) {
        (Some(e), Some(i)) => e < i && head[..e].iter().filter(|b| **b == b'{').count() == 1,
        _ => false,
    }
}

fn classify_item(item: Item, op: OpType) -> ItemOutcome {
    let reason = || {
        item.error
            .as_ref()
            .map(EsError::describe)
            .unwrap_or_else(|| format!("status {}", item.status))
    };
    match item.status {
        200..=299 => ItemOutcome::Acked,
        409 if op == OpType::Create => ItemOutcome::Acked,
        429 | 500..=599 => ItemOutcome::Retry {
            status: item.status,
            reason: reason(),
        },
        s => ItemOutcome::Reject {
            status: s,
            reason: reason(),
        },
    }
}

/// The reason carried by an error body (`{"error": {...}, "status": n}`), or its text.
pub fn error_reason(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Wrapper {
        error: EsErrorOrString,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum EsErrorOrString {
        Obj(EsError),
        Str(String),
    }
    match serde_json::from_slice::<Wrapper>(body) {
        Ok(Wrapper {
            error: EsErrorOrString::Obj(e),
        }) => e.describe(),
        Ok(Wrapper {
            error: EsErrorOrString::Str(s),
        }) => s,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            text.chars().take(300).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_errors_means_all_acked() {
        let body = br#"{"took":3,"errors":false,"items":[{"index":{"status":201}},{"index":{"status":200}}]}"#;
        assert_eq!(
            classify_items(body, OpType::Index, 2).unwrap(),
            vec![ItemOutcome::Acked, ItemOutcome::Acked]
        );
    }

    #[test]
    fn quick_check_reads_only_a_top_level_errors_false() {
        assert!(says_no_errors(br#"{"took":3,"errors":false,"items":[]}"#));
        assert!(says_no_errors(br#"{"errors":false,"took":3,"items":[]}"#));
        assert!(!says_no_errors(br#"{"took":3,"errors":true,"items":[]}"#));
        assert!(!says_no_errors(
            br#"{"took":3,"x":{"errors":false},"items":[]}"#
        ));
        assert!(!says_no_errors(br#"{"items":[],"errors":false}"#));
    }

    #[test]
    fn per_item_classification() {
        let body = br#"{"took":3,"errors":true,"items":[
          {"create":{"_index":"i","_id":"1","status":201}},
          {"create":{"_index":"i","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[2]: version conflict, document already exists (current version [1])"}}},
          {"create":{"_index":"i","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution"}}},
          {"create":{"_index":"i","_id":"4","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long]","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"x\""}}}},
          {"create":{"_index":"i","_id":"5","status":503}}
        ]}"#;
        let out = classify_items(body, OpType::Create, 5).unwrap();
        assert_eq!(out[0], ItemOutcome::Acked);
        assert_eq!(out[1], ItemOutcome::Acked);
        assert!(
            matches!(&out[2], ItemOutcome::Retry { status: 429, reason } if reason.starts_with("es_rejected_execution_exception"))
        );
        match &out[3] {
            ItemOutcome::Reject {
                status: 400,
                reason,
            } => {
                assert!(reason.contains("mapper_parsing_exception: failed to parse field [n]"));
                assert!(reason.contains("caused by illegal_argument_exception"));
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(&out[4], ItemOutcome::Retry { status: 503, .. }));
        // 409 on `index` is not ours to swallow.
        let out = classify_items(body, OpType::Index, 5).unwrap();
        assert!(matches!(out[1], ItemOutcome::Reject { status: 409, .. }));
    }

    #[test]
    fn malformed_answers_are_errors() {
        assert!(classify_items(b"<html>", OpType::Index, 1).is_err());
        let body = br#"{"errors":true,"items":[{"index":{"status":201}}]}"#;
        assert!(matches!(
            classify_items(body, OpType::Index, 2),
            Err(ResponseError::ItemCount { got: 1, sent: 2 })
        ));
    }

    #[test]
    fn statuses_and_error_reasons() {
        assert_eq!(classify_status(200), StatusClass::Items);
        assert_eq!(classify_status(413), StatusClass::TooLarge);
        assert_eq!(classify_status(429), StatusClass::Retry);
        assert_eq!(classify_status(503), StatusClass::Retry);
        assert_eq!(classify_status(400), StatusClass::Reject);
        let body = br#"{"error":{"root_cause":[],"type":"illegal_argument_exception","reason":"bad"},"status":400}"#;
        assert_eq!(error_reason(body), "illegal_argument_exception: bad");
        assert_eq!(error_reason(b"plain"), "plain");
    }
}
