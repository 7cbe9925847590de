//! HTTP: health, readiness, Prometheus metrics, a JSON API and the monitoring console.
//!
//! The server knows nothing of the stages: it asks a [`StatusSource`] (implemented by the
//! pipeline runtime) for readiness and JSON views, and renders metrics recorded through the
//! `metrics` facade by every stage. The listener and the shutdown token are injected, so tests
//! bind port 0 and choose when to stop.

mod metrics_recorder;

pub use metrics_recorder::{MetricsHandle, install_metrics};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Default listen address: loopback only unless the user says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9650";

/// What the server shows; implemented by the pipeline runtime.
pub trait StatusSource: Send + Sync + 'static {
    /// True when every pipeline is running (`GET /ready`).
    fn ready(&self) -> bool;
    /// Topics, partitions, offsets and sizes (`GET /api/topics`).
    fn topics(&self) -> Value;
    /// Consumer groups with committed offsets and lag (`GET /api/groups`).
    fn groups(&self) -> Value;
    /// Pipelines, their stages and state (`GET /api/pipelines`).
    fn pipelines(&self) -> Value;
    /// Called before metrics are rendered, to refresh gauges computed on demand (lag, end
    /// offsets, bytes behind).
    fn refresh_gauges(&self) {}
}

#[derive(Clone)]
struct AppState {
    status: Arc<dyn StatusSource>,
    metrics: Option<MetricsHandle>,
}

/// The router with every route; exposed for tests.
pub fn router(status: Arc<dyn StatusSource>, metrics: Option<MetricsHandle>) -> Router {
    Router::new()
        .route("/", get(console))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/api/topics", get(api_topics))
        .route("/api/groups", get(api_groups))
        .route("/api/pipelines", get(api_pipelines))
        .with_state(AppState { status, metrics })
}

/// Serves until `cancel` fires.
pub async fn serve(
    listener: TcpListener,
    status: Arc<dyn StatusSource>,
    metrics: Option<MetricsHandle>,
    cancel: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(status, metrics))
        .with_graceful_shutdown(async move { cancel.cancelled().await })
        .await
}

async fn health() -> &'static str {
    "ok\n"
}

async fn ready(State(s): State<AppState>) -> Response {
    if s.status.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    s.status.refresh_gauges();
    let body = s.metrics.as_ref().map(|m| m.render()).unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn api_topics(State(s): State<AppState>) -> axum::Json<Value> {
    axum::Json(s.status.topics())
}

async fn api_groups(State(s): State<AppState>) -> axum::Json<Value> {
    axum::Json(s.status.groups())
}

async fn api_pipelines(State(s): State<AppState>) -> axum::Json<Value> {
    axum::Json(s.status.pipelines())
}

async fn console() -> Html<&'static str> {
    Html(include_str!("console.html"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct Fake(AtomicBool);
    impl StatusSource for Fake {
        fn ready(&self) -> bool {
            self.0.load(Ordering::SeqCst)
        }
        fn topics(&self) -> Value {
            json!([{"name": "t"}])
        }
        fn groups(&self) -> Value {
            json!([])
        }
        fn pipelines(&self) -> Value {
            json!([{"name": "p"}])
        }
    }

    async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    #[tokio::test]
    async fn routes_answer_and_readiness_follows_the_source() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Arc::new(Fake(AtomicBool::new(false)));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(serve(listener, fake.clone(), None, cancel.clone()));
        assert_eq!(get(addr, "/health").await.0, 200);
        assert_eq!(get(addr, "/ready").await.0, 503);
        fake.0.store(true, Ordering::SeqCst);
        assert_eq!(get(addr, "/ready").await.0, 200);
        let (code, body) = get(addr, "/api/topics").await;
        assert_eq!(code, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!([{"name": "t"}])
        );
        let (code, body) = get(addr, "/").await;
        assert_eq!(code, 200);
        assert!(body.contains("/api/pipelines"));
        cancel.cancel();
        task.await.unwrap().unwrap();
    }
}
