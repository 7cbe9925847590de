//! The Elasticsearch sink against the test server: delivery, retries, failover, splitting,
//! rejections. Each test checks what ended up stored, not just what the sink said.

mod support;

use serde_json::json;
use sluice::sink::elasticsearch::{ElasticsearchConfig, OpType};
use sluice::sink::{ElasticsearchSink, Sink};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use support::sink_fixtures::{INDEX, config, events, stored};
use support::{EsServer, ItemFault};

fn sink(cfg: ElasticsearchConfig) -> ElasticsearchSink {
    ElasticsearchSink::new(cfg, "test").unwrap()
}

#[tokio::test]
async fn indexes_with_deterministic_ids_and_resend_overwrites() {
    let es = EsServer::start().await;
    let mut s = sink(config(vec![es.url()]));
    let evs = events(250);
    let ack = s.send(evs.clone()).await.unwrap();
    assert!(ack.rejected.is_empty());
    assert_eq!(es.count(INDEX), 250);
    let d = es.doc(INDEX, "fp:7").unwrap();
    assert_eq!(d.json(), stored(&evs[7]));
    assert!(d.json().get("@metadata").is_none());
    assert_eq!(d.version, 1);

    // A re-sent batch (as after a crash) overwrites instead of duplicating.
    s.send(evs).await.unwrap();
    assert_eq!(es.total_docs(), 250);
    assert_eq!(es.doc(INDEX, "fp:7").unwrap().version, 2);
}

/// Without sources (what the end-to-end benchmark runs), the server still stores every
/// document by `_id` with its version and counts receipts; only the bodies go.
#[tokio::test]
async fn a_server_keeping_no_sources_still_counts_versions_and_receipts() {
    let es = EsServer::start().await;
    es.keep_sources(false);
    // Room reserved up front (as the benchmark does) creates no index and changes nothing.
    es.reserve_ids(INDEX, 10_000);
    es.reserve_ids("never-written", 10);
    assert!(es.indices().is_empty());
    let mut s = sink(config(vec![es.url()]));
    let evs = events(50);
    s.send(evs.clone()).await.unwrap();
    s.send(evs).await.unwrap();
    assert_eq!(es.total_docs(), 50);
    let d = es.doc(INDEX, "fp:7").unwrap();
    assert_eq!(d.version, 2);
    assert!(d.source.is_empty());
    assert_eq!(es.times_seen(INDEX, "fp:7"), 2);
    assert_eq!(es.indices(), vec![INDEX.to_string()]);
}

/// The sink asks for a filtered answer (`filter_path`) unless told not to, and reads both.
#[tokio::test]
async fn bulk_answers_are_filtered_unless_turned_off() {
    for filter in [true, false] {
        let es = EsServer::start().await;
        es.faults()
            .mapping_error_when(|v| v["status"] == json!("abc"));
        let mut cfg = config(vec![es.url()]);
        cfg.bulk.filter_response = filter;
        let mut s = sink(cfg);
        let mut evs = events(20);
        evs[4].insert("status", sluice::value!("abc"));
        let ack = s.send(evs).await.unwrap();
        assert_eq!(ack.rejected.len(), 1, "filter_response: {filter}");
        assert_eq!(es.count(INDEX), 19);
        let queries: Vec<Option<String>> = es
            .requests()
            .into_iter()
            .filter(|r| r.path.ends_with("_bulk"))
            .map(|r| r.query)
            .collect();
        let want = filter.then(|| sluice::sink::elasticsearch::client::BULK_FILTER.to_string());
        assert!(
            !queries.is_empty() && queries.iter().all(|q| *q == want),
            "{queries:?}"
        );
    }
}

#[tokio::test]
async fn create_conflict_409_counts_as_delivered() {
    let es = EsServer::start().await;
    let mut cfg = config(vec![es.url()]);
    cfg.op_type = OpType::Create;
    let mut s = sink(cfg);
    let evs = events(50);
    assert!(
        s.send(evs[..20].to_vec())
            .await
            .unwrap()
            .rejected
            .is_empty()
    );
    // The first 20 again (already there: 409) with 30 new ones.
    let ack = s.send(evs.clone()).await.unwrap();
    assert!(ack.rejected.is_empty(), "{:?}", ack.rejected);
    assert_eq!(es.count(INDEX), 50);
    assert_eq!(es.stats().item_errors.load(Relaxed), 20);
    assert!(es.all_docs().iter().all(|(_, _, d)| d.version == 1));
    let bodies = es.stats().bulk_items.load(Relaxed);
    assert_eq!(bodies, 70, "409s are not retried");
}

#[tokio::test]
async fn storm_of_429_on_half_the_items_indexes_everything_exactly_once() {
    let es = EsServer::start().await;
    // Every item is refused with probability 1/2 on each of its first three sightings.
    es.faults()
        .item_rule(|ctx| (ctx.seen < 3 && fastrand::bool()).then_some(ItemFault::TooManyRequests));
    let mut cfg = config(vec![es.url()]);
    cfg.bulk.max_docs = 100;
    cfg.concurrency = 3;
    let mut s = sink(cfg);
    let n = 3000;
    let ack = s.send(events(n)).await.unwrap();
    assert!(ack.rejected.is_empty());
    assert_eq!(es.count(INDEX), n);
    let docs = es.all_docs();
    assert!(
        docs.iter().all(|(_, _, d)| d.version == 1),
        "a document was indexed twice"
    );
    let refused = es.stats().item_errors.load(Relaxed);
    assert!(refused > n as u64 / 2, "the storm happened: {refused}");
    // Only refused items were sent again.
    assert_eq!(es.stats().bulk_items.load(Relaxed), n as u64 + refused);
}

#[tokio::test]
async fn whole_request_429_and_503_are_retried() {
    let es = EsServer::start().await;
    es.faults().fail_next = 3;
    let mut s = sink(config(vec![es.url()]));
    assert!(s.send(events(10)).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 10);
    assert_eq!(es.stats().failed_requests.load(Relaxed), 3);

    {
        let mut f = es.faults();
        f.fail_status = 503;
        f.fail_probability = 0.5;
    }
    let mut evs = events(400);
    for (i, e) in evs.iter_mut().enumerate() {
        e.source_id = Some(format!("p:{i}"));
    }
    let mut cfg = config(vec![es.url()]);
    cfg.bulk.max_docs = 20;
    let mut s = sink(cfg);
    assert!(s.send(evs).await.unwrap().rejected.is_empty());
    assert_eq!(es.count(INDEX), 410);
    assert!(es.stats().failed_requests.load(Relaxed) > 3);
}

#[tokio::test]
async fn connection_dropped_mid_request_or_before_answer_is_retried() {
    let es = EsServer::start().await;
    {
        let mut f = es.faults();
        f.drop_mid_request = 2;
        f.drop_after_body = 2;
    }
    let mut cfg = config(vec![es.url()]);
    cfg.bulk.max_docs = 100;
    let mut s = sink(cfg);
    // Large enough that the body arrives in several chunks.
    let mut evs = events(300);
    for e in &mut evs {
        e.insert("padding", sluice::value!("x".repeat(400)));
    }
    let ack = s.send(evs).await.unwrap();
    assert!(ack.rejected.is_empty());
    assert_eq!(es.stats().dropped.load(Relaxed), 4);
    assert_eq!(es.count(INDEX), 300);
    assert!(es.all_docs().iter().all(|(_, _, d)| d.version == 1));
}

#[tokio::test]
async fn a_host_down_fails_over_to_the_one_up() {
    let es = EsServer::start().await;
    // A port nobody listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let mut cfg = config(vec![dead.clone(), es.url()]);
    cfg.bulk.max_docs = 10;
    let mut s = sink(cfg);
    assert_eq!(
        s.healthcheck().await.unwrap().as_deref(),
        Some("elasticsearch 8.15.0")
    );
    for round in 0..5 {
        let mut evs = events(50);
        for (i, e) in evs.iter_mut().enumerate() {
            e.source_id = Some(format!("r{round}:{i}"));
        }
        assert!(s.send(evs).await.unwrap().rejected.is_empty());
    }
    assert_eq!(es.count(INDEX), 250);
    // The dead host was skipped after failing, not tried for every request.
    assert!(es.stats().bulk_requests.load(Relaxed) >= 25);
}

#[tokio::test]
async fn mapping_errors_are_rejected_with_reason_and_the_rest_indexed() {
    let es = EsServer::start().await;
    es.faults()
        .mapping_error_when(|v| v["status"] == json!("abc"));
    let mut s = sink(config(vec![es.url()]));
    let mut evs = events(100);
    for i in [3, 50, 99] {
        evs[i].insert("status", sluice::value!("abc"));
        // Rebuilt from the bytes sent: floats must come back bit for bit.
        evs[i].insert("ratio", sluice::value!(0.1 + 0.2 + i as f64 * 1e-17));
    }
    let ack = s.send(evs.clone()).await.unwrap();
    assert_eq!(ack.rejected.len(), 3);
    for (r, i) in ack.rejected.iter().zip([3, 50, 99]) {
        assert_eq!(r.event, evs[i], "the original event, @metadata included");
        assert_eq!(r.sink, "elasticsearch");
        assert_eq!(r.status, Some(400));
        assert_eq!(r.attempts, 1);
        assert!(
            r.reason
                .starts_with("mapper_parsing_exception: failed to parse field [status]"),
            "{}",
            r.reason
        );
    }
    assert_eq!(es.count(INDEX), 97);
    assert!(es.doc(INDEX, "fp:3").is_none());
}

#[tokio::test]
async fn too_large_bodies_are_split_and_a_lone_oversized_doc_rejected() {
    let es = EsServer::start().await;
    es.faults().max_body_bytes = Some(20_000);
    let mut s = sink(config(vec![es.url()]));
    let mut evs = events(200);
    for e in &mut evs {
        e.insert("padding", sluice::value!("y".repeat(200)));
    }
    evs[42].insert("padding", sluice::value!("z".repeat(30_000)));
    let ack = s.send(evs).await.unwrap();
    assert_eq!(ack.rejected.len(), 1);
    let r = &ack.rejected[0];
    assert_eq!(r.event.source_id.as_deref(), Some("fp:42"));
    assert_eq!(r.status, Some(413));
    assert!(r.reason.contains("413"), "{}", r.reason);
    assert_eq!(es.count(INDEX), 199);
    assert!(es.stats().failed_requests.load(Relaxed) >= 2);
    assert!(es.all_docs().iter().all(|(_, _, d)| d.version == 1));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let es = EsServer::start().await;
    {
        let mut f = es.faults();
        f.fail_next = 1;
        f.retry_after = Some(1);
    }
    let mut s = sink(config(vec![es.url()]));
    let t = Instant::now();
    assert!(s.send(events(5)).await.unwrap().rejected.is_empty());
    // Without the header the retry would come after ≤ 20 ms.
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert_eq!(es.count(INDEX), 5);
}

#[tokio::test]
async fn slow_answers_within_the_timeout_succeed_and_timeouts_are_retried() {
    let es = EsServer::start().await;
    es.faults().delay = Duration::from_millis(150);
    let mut cfg = config(vec![es.url()]);
    cfg.timeout = Duration::from_secs(2);
    let mut s = sink(cfg.clone());
    assert!(s.send(events(5)).await.unwrap().rejected.is_empty());

    cfg.timeout = Duration::from_millis(50);
    cfg.retry.max_attempts = 2;
    let mut s = sink(cfg);
    let ack = s.send(events(3)).await.unwrap();
    assert_eq!(ack.rejected.len(), 3);
    let r = &ack.rejected[0];
    assert_eq!(r.attempts, 2);
    assert!(
        r.reason.contains("gave up after 2 attempts") && r.reason.contains("timeout"),
        "{}",
        r.reason
    );
}

#[tokio::test]
async fn missing_template_field_is_rejected_without_sending() {
    let es = EsServer::start().await;
    let mut s = sink(config(vec![es.url()]));
    let mut evs = events(3);
    evs[1].remove("service");
    let ack = s.send(evs).await.unwrap();
    assert_eq!(ack.rejected.len(), 1);
    assert_eq!(ack.rejected[0].status, None);
    assert_eq!(ack.rejected[0].attempts, 0);
    assert!(ack.rejected[0].reason.contains("`service`"));
    assert_eq!(es.stats().bulk_items.load(Relaxed), 2);
}

#[tokio::test]
async fn without_document_id_the_server_assigns_ids() {
    // No `_id` (document_id: none): the server picks ids; each send adds documents.
    let es = EsServer::start().await;
    let mut cfg = config(vec![es.url()]);
    cfg.document_id = sluice::sink::elasticsearch::DocumentId::None;
    let mut s = sink(cfg);
    s.send(events(10)).await.unwrap();
    s.send(events(10)).await.unwrap();
    assert_eq!(es.count(INDEX), 20);
}

/// The test server itself speaks `_bulk` as Elasticsearch does: escaped ids, the default index
/// from the URL, delete, and Elasticsearch's error for an unknown action.
#[tokio::test]
async fn test_server_speaks_the_bulk_protocol() {
    let es = EsServer::start().await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let body = concat!(
        "{\"index\":{\"_id\":\"a\\\"b\"}}\n{\"x\":1}\n",
        "{\"create\":{\"_index\":\"other\",\"_id\":\"c\"}}\n{\"x\":2}\n",
        "{\"index\":{\"_id\":\"gone\"}}\n{\"x\":3}\n",
        "{\"delete\":{\"_id\":\"gone\"}}\n",
    );
    let r = http
        .post(format!("{}/logs/_bulk", es.url()))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"], json!(false), "{v}");
    assert_eq!(v["items"][0]["index"]["_id"], json!("a\"b"));
    assert_eq!(v["items"][1]["create"]["_index"], json!("other"));
    assert_eq!(v["items"][3]["delete"]["result"], json!("deleted"));
    assert_eq!(es.doc("logs", "a\"b").unwrap().json(), json!({"x": 1}));
    assert_eq!(es.count("logs"), 1);
    assert_eq!(es.count("other"), 1);
    assert_eq!(es.times_seen("logs", "gone"), 2, "indexed, then deleted");

    // filter_path: the shape the sink asks for (a conflict shows its error), and any other.
    let filtered = |filter: &'static str| {
        let http = http.clone();
        let url = format!("{}/logs/_bulk?filter_path={filter}", es.url());
        async move {
            let body = "{\"create\":{\"_id\":\"c2\"}}\n{\"x\":4}\n{\"create\":{\"_id\":\"c2\"}}\n{\"x\":5}\n";
            let r = http.post(url).body(body).send().await.unwrap();
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let v = filtered("errors,items.*.status,items.*.error,error,status").await;
    assert_eq!(v["errors"], json!(true));
    assert_eq!(v["items"][0], json!({"create": {"status": 201}}));
    assert_eq!(v["items"][1]["create"]["status"], json!(409));
    assert_eq!(
        v["items"][1]["create"]["error"]["type"],
        json!("version_conflict_engine_exception")
    );
    assert!(v.get("took").is_none() && v["items"][0]["create"].get("_id").is_none());
    let v = filtered("items.*._id,took").await;
    assert!(v["took"].is_u64(), "{v}");
    assert_eq!(v["items"][0], json!({"create": {"_id": "c2"}}));
    assert!(v.get("errors").is_none());

    let r = http
        .post(format!("{}/logs/_bulk", es.url()))
        .header("content-type", "application/x-ndjson")
        .body("{\"upsert\":{\"_id\":\"x\"}}\n{}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("expected one of [create, delete, index, update] but found [upsert]"),
        "{text}"
    );
}
