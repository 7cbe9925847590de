//! The only code that speaks HTTP to Elasticsearch: hosts (round-robin, a failing host skipped
//! for a back-off period), auth headers, TLS, `POST /_bulk` and the `GET /` healthcheck.

use super::config::{Auth, ElasticsearchConfig, Secret};
use super::retry::parse_retry_after;
use super::tls::{TlsError, client_config};
use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// The query of a filtered bulk request: the items' statuses and errors (what the sink reads),
/// and a failed request's `error` and `status`.
pub const BULK_FILTER: &str = "filter_path=errors,items.*.status,items.*.error,error,status";

/// Why a request could not be made or answered.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A host URL is not usable (its text is not repeated: it may hold credentials).
    #[error("host #{index}: {reason}")]
    InvalidHost {
        /// Position in `hosts`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// TLS could not be set up.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The HTTP client could not be built, or a credential is not a valid header.
    #[error("HTTP client setup: {0}")]
    Setup(String),
    /// No answer: connection refused or dropped, timeout, unreadable body.
    #[error("{host}: {kind}: {message}")]
    Transport {
        /// The host (without credentials).
        host: String,
        /// `connect`, `timeout` or `request`.
        kind: &'static str,
        /// The cause.
        message: String,
    },
    /// An answer with an unexpected status (healthcheck).
    #[error("{host}: HTTP {status}")]
    Status {
        /// The host.
        host: String,
        /// Its status.
        status: u16,
    },
}

impl ClientError {
    /// True for failures worth retrying (no answer at all).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Transport { .. } | ClientError::Status { .. }
        )
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<Duration>,
    /// The host that answered.
    pub host: String,
}

#[derive(Debug, Default)]
struct HostState {
    failures: u32,
    down_until: Option<Instant>,
}

#[derive(Debug)]
struct Host {
    /// `scheme://host:port/path` without credentials and without a trailing `/`.
    base: String,
    /// `{base}/_bulk`, with [`BULK_FILTER`] when the answer is filtered.
    bulk_url: String,
    state: Mutex<HostState>,
}

/// An Elasticsearch client over several hosts.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    hosts: Vec<Host>,
    next: AtomicUsize,
    auth: Option<HeaderValue>,
    host_backoff: (Duration, Duration),
}

fn basic(user: &str, password: &Secret) -> String {
    let raw = format!("{user}:{}", password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Parses the hosts; returns their bases and credentials found in a URL (`user:pass@`).
fn parse_hosts(hosts: &[String]) -> Result<(Vec<String>, Option<Auth>), ClientError> {
    if hosts.is_empty() {
        return Err(ClientError::Setup("no hosts configured".into()));
    }
    let mut bases = Vec::new();
    let mut url_auth = None;
    for (index, h) in hosts.iter().enumerate() {
        let bad = |reason: &str| ClientError::InvalidHost {
            index,
            reason: reason.to_string(),
        };
        let mut url = reqwest::Url::parse(h).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(bad("expected http://host:port or https://host:port"));
        }
        if !url.username().is_empty() {
            url_auth = Some(Auth::Basic {
                user: url.username().to_string(),
                password: Secret::new(url.password().unwrap_or_default()),
            });
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        url.set_query(None);
        url.set_fragment(None);
        bases.push(url.as_str().trim_end_matches('/').to_string());
    }
    Ok((bases, url_auth))
}

impl Client {
    /// Builds the client for `cfg` (no request is made).
    pub fn new(cfg: &ElasticsearchConfig) -> Result<Self, ClientError> {
        let (bases, url_auth) = parse_hosts(&cfg.hosts)?;
        let auth = match (&cfg.auth, url_auth) {
            (Auth::None, Some(a)) => a,
            (a, _) => a.clone(),
        };
        let auth = match &auth {
            Auth::None => None,
            Auth::Basic { user, password } => Some(basic(user, password)),
            Auth::ApiKey(k) => Some(format!("ApiKey {}", k.expose())),
            Auth::Bearer(t) => Some(format!("Bearer {}", t.expose())),
        }
        .map(|v| {
            HeaderValue::from_str(&v)
                .map(|mut h| {
                    h.set_sensitive(true);
                    h
                })
                .map_err(|_| ClientError::Setup("credentials contain invalid characters".into()))
        })
        .transpose()?;
        let https = bases.iter().any(|b| b.starts_with("https://"));
        if cfg.tls.insecure_skip_verify {
            tracing::warn!(
                "tls.insecure_skip_verify is on: Elasticsearch certificates are NOT verified"
            );
        }
        let tls = client_config(&cfg.tls, https)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .http1_only()
            .no_proxy()
            .tcp_nodelay(true)
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(cfg.concurrency.max(1) * 2)
            .build()
            .map_err(|e| ClientError::Setup(e.without_url().to_string()))?;
        Ok(Client {
            http,
            hosts: bases
                .into_iter()
                .map(|base| Host {
                    bulk_url: if cfg.bulk.filter_response {
                        format!("{base}/_bulk?{BULK_FILTER}")
                    } else {
                        format!("{base}/_bulk")
                    },
                    base,
                    state: Mutex::new(HostState::default()),
                })
                .collect(),
            next: AtomicUsize::new(0),
            auth,
            host_backoff: (cfg.retry.initial, cfg.retry.max.max(cfg.retry.initial)),
        })
    }

    /// The hosts' base URLs (without credentials).
    pub fn hosts(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.base.as_str()).collect()
    }

    /// The next host to use: round-robin among hosts not backing off, else the one that
    /// recovers first.
    fn pick(&self) -> &Host {
        let now = Instant::now();
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut soonest: Option<(Instant, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            match self.hosts[i].state.lock().down_until {
                Some(t) if t > now => {
                    if soonest.is_none_or(|(s, _)| t < s) {
                        soonest = Some((t, i));
                    }
                }
                _ => return &self.hosts[i],
            }
        }
        &self.hosts[soonest.map_or(0, |(_, i)| i)]
    }

    fn mark(&self, host: &Host, ok: bool) {
        let mut st = host.state.lock();
        if ok {
            *st = HostState::default();
            return;
        }
        let (initial, max) = self.host_backoff;
        let factor = 1u32.checked_shl(st.failures.min(31)).unwrap_or(u32::MAX);
        st.failures = st.failures.saturating_add(1);
        st.down_until = Some(Instant::now() + initial.saturating_mul(factor).min(max));
        if st.failures == 1 {
            tracing::warn!(host = %host.base, "Elasticsearch host failing; skipping it for a while");
        }
    }

    fn transport(host: &Host, e: reqwest::Error) -> ClientError {
        let kind = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "request"
        };
        let e = e.without_url();
        let mut message = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        ClientError::Transport {
            host: host.base.clone(),
            kind,
            message,
        }
    }

    /// Sends one `_bulk` body (already gzip-compressed when `gzip`).
    pub async fn bulk(&self, body: Bytes, gzip: bool) -> Result<Reply, ClientError> {
        let host = self.pick();
        let mut req = self
            .http
            .post(&host.bulk_url)
            .header(CONTENT_TYPE, "application/x-ndjson")
            .body(body);
        if gzip {
            req = req.header(CONTENT_ENCODING, "gzip");
        }
        if let Some(a) = &self.auth {
            req = req.header(AUTHORIZATION, a.clone());
        }
        let result = async {
            let resp = req.send().await?;
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        }
        .await;
        match result {
            Ok((status, retry_after, body)) => {
                self.mark(host, !matches!(status, 502..=504));
                Ok(Reply {
                    status,
                    body,
                    retry_after,
                    host: host.base.clone(),
                })
            }
            Err(e) => {
                self.mark(host, false);
                Err(Self::transport(host, e))
            }
        }
    }

    /// `GET /` on each host until one answers 200: returns the host and the product and
    /// version it reports (`elasticsearch 8.15.0`, `opensearch 2.17.0`).
    pub async fn healthcheck(&self) -> Result<(String, String), ClientError> {
        let mut last = None;
        for host in &self.hosts {
            let mut req = self.http.get(format!("{}/", host.base));
            if let Some(a) = &self.auth {
                req = req.header(AUTHORIZATION, a.clone());
            }
            match req.send().await {
                Ok(resp) if resp.status().is_success() => {
                    let v: serde_json::Value = resp.json().await.unwrap_or_default();
                    let product = v["version"]["distribution"]
                        .as_str()
                        .unwrap_or("elasticsearch");
                    let number = v["version"]["number"].as_str().unwrap_or("unknown");
                    return Ok((host.base.clone(), format!("{product} {number}")));
                }
                Ok(resp) => {
                    last = Some(ClientError::Status {
                        host: host.base.clone(),
                        status: resp.status().as_u16(),
                    })
                }
                Err(e) => last = Some(Self::transport(host, e)),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Setup("no hosts configured".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_move_to_auth_and_out_of_errors() {
        let (bases, auth) =
            parse_hosts(&["https://elastic:s3cret@es.example:9200/".to_string()]).unwrap();
        assert_eq!(bases, vec!["https://es.example:9200"]);
        match auth {
            Some(Auth::Basic { user, password }) => {
                assert_eq!(user, "elastic");
                assert_eq!(password.expose(), "s3cret");
            }
            a => panic!("{a:?}"),
        }
        let err = parse_hosts(&["ftp://u:s3cret@x".to_string()]).unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
        assert!(parse_hosts(&[]).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_host_is_skipped_for_its_back_off_then_tried_again() {
        let cfg = ElasticsearchConfig {
            hosts: vec!["http://a:1".into(), "http://b:2".into()],
            ..Default::default()
        };
        let c = Client::new(&cfg).unwrap();
        let picks = |n| (0..n).map(|_| c.pick().base.clone()).collect::<Vec<_>>();
        assert_eq!(
            picks(4),
            vec!["http://a:1", "http://b:2", "http://a:1", "http://b:2"]
        );
        c.mark(&c.hosts[0], false);
        assert!(picks(6).iter().all(|h| h == "http://b:2"));
        // Every host down: the one that recovers first.
        c.mark(&c.hosts[1], false);
        c.mark(&c.hosts[1], false);
        assert_eq!(c.pick().base, "http://a:1");
        // After the back-off (100 ms for a first failure) `a` is back in the rotation.
        tokio::time::advance(Duration::from_millis(150)).await;
        assert!(picks(4).iter().all(|h| h == "http://a:1"));
        c.mark(&c.hosts[0], true);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(picks(2).len(), 2);
        assert!(picks(4).contains(&"http://b:2".to_string()));
    }

    #[test]
    fn auth_header_is_sensitive_and_not_in_debug() {
        let cfg = ElasticsearchConfig {
            auth: Auth::Basic {
                user: "elastic".into(),
                password: "pw-xyz".into(),
            },
            ..Default::default()
        };
        let c = Client::new(&cfg).unwrap();
        assert!(c.auth.as_ref().unwrap().is_sensitive());
        assert!(!format!("{c:?}").contains("ZWxhc3RpYzpwdy14eXo"));
        assert_eq!(
            basic("elastic", &"pw-xyz".into()),
            "Basic ZWxhc3RpYzpwdy14eXo="
        );
    }
}
