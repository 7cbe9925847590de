//! The Elasticsearch sink's auth, TLS, gzip, healthcheck, metrics, and the promise that
//! credentials never reach logs or errors.

mod support;

use sluice::sink::elasticsearch::{Auth, Compression, ElasticsearchConfig, Healthcheck, TlsConfig};
use sluice::sink::{ElasticsearchSink, Sink};
use std::io::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use support::sink_fixtures::{INDEX, config, events, stored};
use support::{EsServer, RequiredAuth};

fn sink(cfg: ElasticsearchConfig) -> ElasticsearchSink {
    ElasticsearchSink::new(cfg, "test").unwrap()
}

#[tokio::test]
async fn gzip_bodies_are_decoded_by_the_server() {
    let es = EsServer::start().await;
    let mut cfg = config(vec![es.url()]);
    cfg.compression = Compression::Gzip;
    cfg.bulk.max_docs = 100;
    let mut s = sink(cfg);
    let evs = events(1000);
    assert!(s.send(evs.clone()).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 1000);
    assert_eq!(es.doc(INDEX, "fp:999").unwrap().json(), stored(&evs[999]));
    let st = es.stats();
    assert_eq!(st.bulk_requests.load(Relaxed), 10);
    assert_eq!(st.gzip_bulk_requests.load(Relaxed), 10);
    let reqs = es.requests();
    let bulk = reqs.iter().find(|r| r.path == "/_bulk").unwrap();
    assert_eq!(bulk.header("content-encoding"), Some("gzip"));
    assert_eq!(bulk.header("content-type"), Some("application/x-ndjson"));
    // Compressed: far fewer bytes on the wire than the ~130 KB of NDJSON.
    assert!(
        st.body_bytes.load(Relaxed) < 40_000,
        "{}",
        st.body_bytes.load(Relaxed)
    );
}

#[tokio::test]
async fn basic_auth_header_is_sent_and_required() {
    let es = EsServer::start().await;
    es.require_auth(RequiredAuth::Basic("elastic".into(), "changeme".into()));
    let mut cfg = config(vec![es.url()]);
    cfg.auth = Auth::Basic {
        user: "elastic".into(),
        password: "changeme".into(),
    };
    let mut s = sink(cfg.clone());
    assert!(s.send(events(5)).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 5);
    let reqs = es.requests();
    assert_eq!(
        reqs.last().unwrap().header("authorization"),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );

    // Credentials in the host URL work the same way.
    let mut cfg2 = config(vec![
        es.url().replace("http://", "http://elastic:changeme@"),
    ]);
    cfg2.healthcheck = Healthcheck::Required;
    let mut s2 = ElasticsearchSink::connect(cfg2, "test").await.unwrap();
    assert!(s2.send(events(1)).await.unwrap().rejected.is_empty());

    // A wrong password is retried (an operator can fix it) until max_attempts.
    cfg.auth = Auth::Basic {
        user: "elastic".into(),
        password: "wrong".into(),
    };
    cfg.retry.max_attempts = 3;
    let mut s = sink(cfg);
    let ack = s.send(events(2)).await.unwrap();
    assert_eq!(ack.rejected.len(), 2);
    assert_eq!(ack.rejected[0].status, Some(401));
    assert_eq!(ack.rejected[0].attempts, 3);
    assert!(ack.rejected[0].reason.contains("security_exception"));
}

#[tokio::test]
async fn api_key_header_is_sent() {
    let es = EsServer::start().await;
    es.require_auth(RequiredAuth::ApiKey(
        "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==".into(),
    ));
    let mut cfg = config(vec![es.url()]);
    cfg.auth = Auth::ApiKey("VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==".into());
    let mut s = sink(cfg);
    assert!(s.send(events(3)).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 3);
    assert!(es.requests().iter().all(|r| {
        r.header("authorization")
            .is_some_and(|a| a.starts_with("ApiKey VnVh"))
    }));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn credentials_never_appear_in_logs_or_errors() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let password = "Sup3r-S3cret-Pa55";
    let api_key = "QXBpS2V5U2VjcmV0MTIzNDU2";
    let es = EsServer::start().await;
    es.require_auth(RequiredAuth::Basic("elastic".into(), "other".into()));
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://elastic:{password}@{}", l.local_addr().unwrap())
    };
    let mut errors = Vec::new();
    for auth in [
        Auth::Basic {
            user: "elastic".into(),
            password: password.into(),
        },
        Auth::ApiKey(api_key.into()),
        Auth::Bearer(api_key.into()),
    ] {
        let mut cfg = config(vec![dead.clone(), es.url()]);
        cfg.auth = auth;
        cfg.retry.max_attempts = 4;
        cfg.healthcheck = Healthcheck::Required;
        errors.push(format!("{cfg:?}"));
        let s = sink(cfg.clone());
        errors.push(format!("{s:?}"));
        // 401 from one host, connection refused from the other.
        let err = ElasticsearchSink::connect(cfg.clone(), "test")
            .await
            .unwrap_err();
        errors.push(err.to_string());
        let mut s = sink(cfg);
        let ack = s.send(events(2)).await.unwrap();
        assert_eq!(ack.rejected.len(), 2);
        errors.extend(ack.rejected.iter().map(|r| r.reason.clone()));
    }
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("will retry"), "logs were captured: {logs}");
    let basic = "ZWxhc3RpYzpTdXAzci1TM2NyZXQtUGE1NQ"; // base64("elastic:Sup3r-S3cret-Pa55")
    for text in errors.iter().chain(std::iter::once(&logs)) {
        for secret in [password, api_key, basic] {
            assert!(!text.contains(secret), "secret leaked into: {text}");
        }
    }
}

#[tokio::test]
async fn healthcheck_warns_or_fails_as_configured() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut cfg = config(vec![dead]);
    assert_eq!(sink(cfg.clone()).healthcheck().await.unwrap(), None);
    cfg.healthcheck = Healthcheck::Required;
    let err = ElasticsearchSink::connect(cfg.clone(), "t")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("healthcheck failed"), "{err}");
    cfg.healthcheck = Healthcheck::Off;
    assert!(ElasticsearchSink::connect(cfg, "t").await.is_ok());
}

#[tokio::test]
async fn metrics_count_sent_acked_retried_and_dead_lettered() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let es = EsServer::start().await;
    es.faults().fail_next = 1;
    es.faults().mapping_error_when(|v| {
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("/item/3 "))
    });
    let mut s = metrics::with_local_recorder(&recorder, || sink(config(vec![es.url()])));
    s.send(events(10)).await.unwrap();
    let text = handle.render();
    let value = |name: &str| -> f64 {
        text.lines()
            .find(|l| {
                l.starts_with(name)
                    && l.contains("pipeline=\"test\"")
                    && l.contains("sink=\"elasticsearch\"")
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
    };
    assert_eq!(value("sluice_sink_docs_sent_total"), 20.0);
    assert_eq!(value("sluice_sink_docs_retried_total"), 10.0);
    assert_eq!(value("sluice_sink_docs_acked_total"), 9.0);
    assert_eq!(value("sluice_sink_docs_dead_lettered_total"), 1.0);
    assert_eq!(value("sluice_sink_requests_in_flight"), 0.0);
    assert!(value("sluice_sink_bytes_sent_total") > 1000.0);
    assert!(text.contains("sluice_sink_bulk_latency_seconds"));
}

/// A test CA and a server certificate for 127.0.0.1 signed by it, made with the `openssl`
/// command: (ca.pem, cert.pem, key.pem).
fn make_certs(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("the openssl command is needed to make test certificates");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-days",
            "2",
            "-subj",
            "/CN=sluice-test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "cert.pem",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

#[tokio::test]
async fn tls_with_a_custom_ca_and_insecure_skip_verify() {
    let dir = tempfile::TempDir::new().unwrap();
    let (ca, cert, key) = make_certs(dir.path());
    let es = EsServer::start_tls(&cert, &key).await.unwrap();
    assert!(es.url().starts_with("https://127.0.0.1:"));

    let mut cfg = config(vec![es.url()]);
    cfg.tls = TlsConfig {
        ca_file: Some(ca.clone()),
        insecure_skip_verify: false,
    };
    let mut s = sink(cfg.clone());
    assert!(s.send(events(4)).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 4);

    // Without our CA the certificate is refused...
    cfg.tls.ca_file = None;
    cfg.retry.max_attempts = 1;
    let ack = sink(cfg.clone()).send(events(1)).await.unwrap();
    assert_eq!(ack.rejected.len(), 1);
    assert!(
        ack.rejected[0]
            .reason
            .to_lowercase()
            .contains("certificate"),
        "{}",
        ack.rejected[0].reason
    );

    // ...unless verification is explicitly off.
    cfg.tls.insecure_skip_verify = true;
    let mut evs = events(1);
    evs[0].source_id = Some("insecure".into());
    assert!(sink(cfg).send(evs).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 5);

    // A bad CA file is a configuration error.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let mut cfg = config(vec![es.url()]);
    cfg.tls.ca_file = Some(bad);
    let err = ElasticsearchSink::new(cfg, "t").unwrap_err();
    assert!(err.to_string().contains("bad.pem"), "{err}");
}
