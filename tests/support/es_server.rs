//! An Elasticsearch-compatible HTTP server for tests and demos (axum over hyper, on
//! 127.0.0.1:0 by default): `GET /`, `POST /_bulk`, `POST /{index}/_bulk` (gzip bodies too),
//! `GET /{index}/_count`, `GET /{index}/_doc/{id}`, `POST /{index}/_refresh`, with programmable
//! faults ([`Faults`]) and counters of what it saw ([`Stats`]).

use super::es_faults::{Faults, RequiredAuth, SeenRequest, Stats};
use super::es_store::{FilterPath, Store, StoredDoc};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use flate2::read::MultiGzDecoder;
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use parking_lot::{Mutex, MutexGuard};
use serde_json::json;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared server state.
#[derive(Default)]
pub struct ServerState {
    store: Mutex<Store>,
    faults: Mutex<Faults>,
    auth: Mutex<Option<RequiredAuth>>,
    seen: Mutex<Vec<SeenRequest>>,
    /// Counters.
    pub stats: Stats,
}

#[derive(Clone)]
struct Kill(CancellationToken);

type Shared = Arc<ServerState>;

/// A running test server; stops when dropped.
pub struct EsServer {
    addr: SocketAddr,
    tls: bool,
    state: Shared,
    shutdown: CancellationToken,
}

impl Drop for EsServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn es_error(status: StatusCode, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status.as_u16(),
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl EsServer {
    /// Starts a plain-HTTP server on 127.0.0.1, on a free port.
    pub async fn start() -> Self {
        Self::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0")
    }

    /// Starts a plain-HTTP server on `addr`.
    pub async fn bind(addr: &str) -> std::io::Result<Self> {
        Self::serve(TcpListener::bind(addr).await?, None)
    }

    /// Starts an HTTPS server on 127.0.0.1 with a PEM certificate chain and key.
    pub async fn start_tls(
        cert_pem: &std::path::Path,
        key_pem: &std::path::Path,
    ) -> std::io::Result<Self> {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem)
            .map_err(std::io::Error::other)?
            .collect::<Result<_, _>>()
            .map_err(std::io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(key_pem).map_err(std::io::Error::other)?;
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        Self::serve(TcpListener::bind("127.0.0.1:0").await?, Some(acceptor))
    }

    fn serve(
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let state: Shared = Arc::new(ServerState::default());
        let shutdown = CancellationToken::new();
        let router = Router::new()
            .route("/", get(root))
            .route("/_bulk", post(bulk_default).put(bulk_default))
            .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
            .route("/{index}/_count", get(count).post(count))
            .route("/{index}/_doc/{id}", get(get_doc))
            .route("/{index}/_refresh", post(refresh).get(refresh))
            .with_state(state.clone());
        let stop = shutdown.clone();
        let is_tls = tls.is_some();
        tokio::spawn(async move {
            loop {
                let (stream, _) = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = listener.accept() => match r { Ok(s) => s, Err(_) => continue },
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let stop = stop.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acc) => {
                            if let Ok(s) = acc.accept(stream).await {
                                serve_conn(s, router, stop).await;
                            }
                        }
                        None => serve_conn(stream, router, stop).await,
                    }
                });
            }
        });
        Ok(EsServer {
            addr,
            tls: is_tls,
            state,
            shutdown,
        })
    }

    /// The base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and closes connections.
    pub fn stop(&self) {
        self.shutdown.cancel();
    }

    /// The faults to inject (hold the guard briefly).
    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        self.state.faults.lock()
    }

    /// Whether stored documents keep their `_source` (the default). Benchmarks that only count
    /// documents turn it off: every item is still parsed, validated and stored by `_id` with
    /// its version, but the request bodies are not held in memory for the whole run.
    pub fn keep_sources(&self, keep: bool) {
        self.state.store.lock().keep_sources = keep;
    }

    /// Makes room for `ids` documents in `index` up front (see `Store::reserve`).
    pub fn reserve_ids(&self, index: &str, ids: usize) {
        self.state.store.lock().reserve(index, ids);
    }

    /// Requires credentials on every request (401 otherwise).
    pub fn require_auth(&self, auth: RequiredAuth) {
        *self.state.auth.lock() = Some(auth);
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.state.stats
    }

    /// Every request seen (the first 10,000).
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.seen.lock().clone()
    }

    /// Documents in `index`.
    pub fn count(&self, index: &str) -> usize {
        self.state.store.lock().index(index).map_or(0, |i| i.len())
    }

    /// Documents in all indices.
    pub fn total_docs(&self) -> usize {
        self.state
            .store
            .lock()
            .indices()
            .map(|(_, i)| i.len())
            .sum()
    }

    /// Index names.
    pub fn indices(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .state
            .store
            .lock()
            .indices()
            .map(|(name, _)| name.clone())
            .collect();
        v.sort();
        v
    }

    /// One document.
    pub fn doc(&self, index: &str, id: &str) -> Option<StoredDoc> {
        self.state.store.lock().index(index)?.get(id).cloned()
    }

    /// Every document as (index, id, doc).
    pub fn all_docs(&self) -> Vec<(String, String, StoredDoc)> {
        let store = self.state.store.lock();
        let mut v: Vec<_> = store
            .indices()
            .flat_map(|(i, idx)| {
                idx.docs()
                    .map(move |(id, d)| (i.clone(), id.clone(), d.clone()))
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    /// Times `index/id` was received in a bulk request.
    pub fn times_seen(&self, index: &str, id: &str) -> u32 {
        self.state.store.lock().times_seen(index, id)
    }
}

async fn serve_conn<S>(io: S, router: Router, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let kill = CancellationToken::new();
    let svc = TowerToHyperService::new(router.layer(axum::Extension(Kill(kill.clone()))));
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = kill.cancelled() => {}
        _ = stop.cancelled() => {}
    }
}

fn record(state: &ServerState, method: &str, path: &str, headers: &HeaderMap) {
    record_query(state, method, path, None, headers);
}

fn record_query(
    state: &ServerState,
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) {
    state.stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut seen = state.seen.lock();
    if seen.len() < 10_000 {
        seen.push(SeenRequest {
            query: query.map(str::to_string),
            method: method.to_string(),
            path: path.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
        });
    }
}

/// The 401 answer when the request lacks the required credentials.
fn denied(state: &ServerState, headers: &HeaderMap) -> Option<Response> {
    let req = state.auth.lock().clone()?;
    let expected = match req {
        RequiredAuth::Basic(u, p) => {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        }
        RequiredAuth::ApiKey(k) => format!("ApiKey {k}"),
    };
    let got = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if got == Some(expected.as_str()) {
        return None;
    }
    let mut r = es_error(
        StatusCode::UNAUTHORIZED,
        "security_exception",
        "missing authentication credentials for REST request [/_bulk]",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Basic realm=\"security\", charset=\"UTF-8\", ApiKey"),
    );
    Some(r)
}

async fn root(State(st): State<Shared>, headers: HeaderMap) -> Response {
    record(&st, "GET", "/", &headers);
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    let body = json!({
        "name": "sluice-test-node",
        "cluster_name": "sluice-test",
        "cluster_uuid": "sLuIcEtEsTsErVeR00000A",
        "version": {
            "number": "8.15.0",
            "build_flavor": "default",
            "build_type": "tar",
            "lucene_version": "9.11.1",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    });
    json_response(StatusCode::OK, body.to_string())
}

async fn bulk_default(
    State(st): State<Shared>,
    axum::Extension(kill): axum::Extension<Kill>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bulk(st, kill, None, query, headers, body).await
}

async fn bulk_index(
    State(st): State<Shared>,
    axum::Extension(kill): axum::Extension<Kill>,
    Path(index): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    bulk(st, kill, Some(index), query, headers, body).await
}

async fn die(st: &ServerState, kill: &Kill) -> Response {
    st.stats.dropped.fetch_add(1, Ordering::Relaxed);
    kill.0.cancel();
    std::future::pending::<()>().await;
    unreachable!()
}

async fn bulk(
    st: Shared,
    kill: Kill,
    index: Option<String>,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let filter = query.as_deref().and_then(FilterPath::from_query);
    let path = index
        .as_ref()
        .map_or("/_bulk".to_string(), |i| format!("/{i}/_bulk"));
    record_query(&st, "POST", &path, query.as_deref(), &headers);
    st.stats.bulk_requests.fetch_add(1, Ordering::Relaxed);
    let mid = {
        let mut f = st.faults.lock();
        let d = f.drop_mid_request > 0;
        if d {
            f.drop_mid_request -= 1;
        }
        d
    };
    let mut body = body;
    // Sized from Content-Length (bounded), so that the body kept by the stored documents holds
    // no slack from growing.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut raw = Vec::with_capacity(declared.min(64 << 20));
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return die(&st, &kill).await;
        };
        if let Ok(data) = frame.into_data() {
            raw.extend_from_slice(&data);
            if mid {
                return die(&st, &kill).await;
            }
        }
    }
    st.stats
        .body_bytes
        .fetch_add(raw.len() as u64, Ordering::Relaxed);
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    let (drop_now, fail, retry_after, delay, too_large) = {
        let mut f = st.faults.lock();
        let drop_now = f.drop_after_body > 0;
        if drop_now {
            f.drop_after_body -= 1;
        }
        let status = if f.fail_status == 0 {
            429
        } else {
            f.fail_status
        };
        let fail = if f.fail_next > 0 {
            f.fail_next -= 1;
            Some(status)
        } else if f.fail_probability > 0.0 && fastrand::f64() < f.fail_probability {
            Some(status)
        } else {
            None
        };
        let too_large = f.max_body_bytes.is_some_and(|m| raw.len() > m);
        (drop_now, fail, f.retry_after, f.delay, too_large)
    };
    if drop_now {
        return die(&st, &kill).await;
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if too_large {
        st.stats.failed_requests.fetch_add(1, Ordering::Relaxed);
        return es_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "content_too_long_exception",
            "request content is too long",
        );
    }
    if let Some(status) = fail {
        st.stats.failed_requests.fetch_add(1, Ordering::Relaxed);
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        let kind = if status == 429 {
            "es_rejected_execution_exception"
        } else {
            "cluster_block_exception"
        };
        let mut r = es_error(code, kind, "injected failure");
        if let Some(s) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        return r;
    }
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    let data = if gzip {
        let mut out = Vec::with_capacity(raw.len() * 4);
        if let Err(e) = MultiGzDecoder::new(&raw[..]).read_to_end(&mut out) {
            return es_error(
                StatusCode::BAD_REQUEST,
                "parse_exception",
                &format!("bad gzip body: {e}"),
            );
        }
        st.stats.gzip_bulk_requests.fetch_add(1, Ordering::Relaxed);
        bytes::Bytes::from(out)
    } else {
        bytes::Bytes::from(raw)
    };
    let result = {
        let mut faults = st.faults.lock();
        let mut store = st.store.lock();
        let mut items = 0u64;
        let rules = &mut faults.item_rules;
        let r = store.bulk(&data, index.as_deref(), filter.as_ref(), &mut |ctx| {
            items += 1;
            rules.iter_mut().find_map(|rule| rule(ctx))
        });
        st.stats.bulk_items.fetch_add(items, Ordering::Relaxed);
        r
    };
    match result {
        Ok(r) => {
            st.stats
                .item_errors
                .fetch_add(r.errors as u64, Ordering::Relaxed);
            json_response(StatusCode::OK, r.body)
        }
        Err(reason) => es_error(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            &reason,
        ),
    }
}

async fn count(
    State(st): State<Shared>,
    Path(index): Path<String>,
    headers: HeaderMap,
) -> Response {
    record(&st, "GET", &format!("/{index}/_count"), &headers);
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    let store = st.store.lock();
    let n: usize = if index == "_all" || index == "*" {
        store.indices().map(|(_, i)| i.len()).sum()
    } else {
        match store.index(&index) {
            Some(i) => i.len(),
            None => {
                return es_error(
                    StatusCode::NOT_FOUND,
                    "index_not_found_exception",
                    &format!("no such index [{index}]"),
                );
            }
        }
    };
    let body =
        json!({"count": n, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}});
    json_response(StatusCode::OK, body.to_string())
}

async fn get_doc(
    State(st): State<Shared>,
    Path((index, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    record(&st, "GET", &format!("/{index}/_doc/{id}"), &headers);
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    let store = st.store.lock();
    let Some(idx) = store.index(&index) else {
        return es_error(
            StatusCode::NOT_FOUND,
            "index_not_found_exception",
            &format!("no such index [{index}]"),
        );
    };
    match idx.get(&id) {
        Some(d) => {
            let body = json!({
                "_index": index, "_id": id, "_version": d.version, "_seq_no": d.seq_no,
                "_primary_term": 1, "found": true, "_source": d.json(),
            });
            json_response(StatusCode::OK, body.to_string())
        }
        None => json_response(
            StatusCode::NOT_FOUND,
            json!({"_index": index, "_id": id, "found": false}).to_string(),
        ),
    }
}

async fn refresh(
    State(st): State<Shared>,
    Path(index): Path<String>,
    headers: HeaderMap,
) -> Response {
    record(&st, "POST", &format!("/{index}/_refresh"), &headers);
    if let Some(r) = denied(&st, &headers) {
        return r;
    }
    json_response(
        StatusCode::OK,
        json!({"_shards": {"total": 1, "successful": 1, "failed": 0}}).to_string(),
    )
}
