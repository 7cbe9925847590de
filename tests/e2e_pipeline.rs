//! End to end through the real binary: a writer appends and rotates an Apache log, `sluice run`
//! tails it into the durable log, groks it and bulk-indexes it into the test Elasticsearch
//! server. The headline guarantee — exactly one document per line, with the right fields — is
//! checked by count, by the set of `_id`s and by the content of every document, across SIGTERM
//! and across SIGKILLs at random moments while the server injects 429s and dropped connections.

mod e2e_support;
mod support;

use e2e_support::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;
use support::EsServer;

const INDEX: &str = "logs-web";

/// Checks that the server holds exactly one document per line `0..n`, each with the grok
/// fields and the right `@timestamp`; returns the number of `_id`s.
fn assert_exactly_once(es: &EsServer, n: u64) {
    let docs = es.all_docs();
    assert_eq!(es.indices(), vec![INDEX.to_string()], "one index");
    let mut ids = HashSet::new();
    let mut lines = vec![0u32; n as usize];
    for (index, id, doc) in &docs {
        assert_eq!(index, INDEX);
        assert!(ids.insert(id.clone()), "duplicate _id {id}");
        let v = doc.json();
        let path = v["url"]["original"]
            .as_str()
            .unwrap_or_else(|| panic!("no url.original in {v}"));
        let i: u64 = path
            .strip_prefix("/item/")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected path {path}"));
        assert!(i < n, "line {i} was never written");
        lines[i as usize] += 1;
        assert_eq!(v["message"].as_str(), Some(apache_line(i).as_str()));
        assert_eq!(v["http"]["request"]["method"], Value::from("GET"));
        assert_eq!(
            v["source"]["address"].as_str(),
            Some(format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255).as_str())
        );
        assert!(
            v["http"]["response"]["status_code"].is_u64(),
            "typed status in {v}"
        );
        assert_eq!(
            v["@timestamp"].as_str(),
            Some(expected_timestamp(i).as_str())
        );
        assert_eq!(v["service"], Value::from("web"));
        assert!(v.get("timestamp").is_none(), "removed field still there");
        assert!(v.get("tags").is_none(), "unexpected tags in {v}");
    }
    let missing: Vec<usize> = (0..n as usize).filter(|&i| lines[i] == 0).collect();
    let doubled: Vec<usize> = (0..n as usize).filter(|&i| lines[i] > 1).collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "{} lines lost (first {:?}), {} lines duplicated (first {:?})",
        missing.len(),
        &missing[..missing.len().min(10)],
        doubled.len(),
        &doubled[..doubled.len().min(10)]
    );
    assert_eq!(docs.len() as u64, n);
}

fn daemon_log(root: &std::path::Path) -> String {
    std::fs::read_to_string(root.join("daemon.log")).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_thousand_lines_arrive_exactly_once_with_fields() {
    let es = EsServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_pipeline(root.path(), &logs, &es.url(), 4);
    let data = root.path().join("data");
    let daemon = Daemon::start(&config, &data, &root.path().join("daemon.log"));
    const N: u64 = 200_000;
    let writer = {
        let logs = logs.clone();
        std::thread::spawn(move || write_lines(&logs, 0..N, 70_000, 5_000))
    };
    writer.join().unwrap();
    let done = wait_until(Duration::from_secs(120), || es.total_docs() as u64 >= N);
    let status = daemon.terminate(Duration::from_secs(30));
    assert!(
        done,
        "only {} of {N} documents; daemon log:\n{}",
        es.total_docs(),
        daemon_log(root.path())
    );
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "exit status after SIGTERM"
    );
    assert_exactly_once(&es, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let es = EsServer::start().await;
    {
        let mut f = es.faults();
        f.fail_probability = 0.05; // whole-request 429s
        f.drop_after_body = 5; // connections dropped after the body was read (and indexed? no)
        f.drop_mid_request = 5;
        f.reject_first_sight(0.2); // per-item 429 on first sight
    }
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_pipeline(root.path(), &logs, &es.url(), 4);
    let data = root.path().join("data");
    let log = root.path().join("daemon.log");
    const N: u64 = 60_000;
    let writer = {
        let logs = logs.clone();
        std::thread::spawn(move || write_lines(&logs, 0..N, 15_000, 1_000))
    };
    let mut kills = 0;
    while kills < 12 {
        let daemon = Daemon::start(&config, &data, &log);
        std::thread::sleep(Duration::from_millis(150 + fastrand::u64(0..700)));
        daemon.kill9();
        kills += 1;
    }
    writer.join().unwrap();
    let daemon = Daemon::start(&config, &data, &log);
    let done = wait_until(Duration::from_secs(120), || es.total_docs() as u64 >= N);
    // Let anything still in flight land, so a late duplicate would be seen.
    std::thread::sleep(Duration::from_millis(500));
    let status = daemon.terminate(Duration::from_secs(30));
    assert!(
        done,
        "only {} of {N} documents after {kills} kills; daemon log:\n{}",
        es.total_docs(),
        daemon_log(root.path())
    );
    assert_eq!(status.map(|s| s.code()), Some(Some(0)));
    assert_exactly_once(&es, N);
    let resent = es
        .all_docs()
        .iter()
        .filter(|(_, _, d)| d.version > 1)
        .count();
    eprintln!("{kills} kills; {resent} documents were re-sent and overwritten (same _id)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_drains_and_a_restart_completes_exactly() {
    let es = EsServer::start().await;
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let config = write_pipeline(root.path(), &logs, &es.url(), 2);
    let data = root.path().join("data");
    let log = root.path().join("daemon.log");
    const N: u64 = 50_000;
    let writer = {
        let logs = logs.clone();
        std::thread::spawn(move || write_lines(&logs, 0..N, 1_000_000, 500))
    };
    let daemon = Daemon::start(&config, &data, &log);
    // Stop it while lines are still being written and shipped.
    wait_until(Duration::from_secs(30), || es.total_docs() > 1_000);
    let status = daemon.terminate(Duration::from_secs(30));
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "graceful exit; log:\n{}",
        daemon_log(root.path())
    );
    let after_stop = es.total_docs() as u64;
    writer.join().unwrap();
    assert!(
        after_stop < N,
        "the stop was not mid-stream ({after_stop} of {N})"
    );
    let daemon = Daemon::start(&config, &data, &log);
    let done = wait_until(Duration::from_secs(60), || es.total_docs() as u64 >= N);
    std::thread::sleep(Duration::from_millis(300));
    let status = daemon.terminate(Duration::from_secs(30));
    assert!(
        done,
        "only {} of {N}; log:\n{}",
        es.total_docs(),
        daemon_log(root.path())
    );
    assert_eq!(status.map(|s| s.code()), Some(Some(0)));
    assert_exactly_once(&es, N);
}
