//! The running daemon's surface: /health, /ready, /metrics (Prometheus names users alert on),
//! the JSON API and the console; and the data directory's lock against a second `sluice run`.

mod e2e_support;

use e2e_support::*;
use std::process::Command;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn get(url: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let resp = reqwest::get(url).await.ok()?;
        let code = resp.status().as_u16();
        Some((code, resp.text().await.ok()?))
    })
}

#[test]
fn daemon_serves_health_metrics_api_console_and_holds_the_lock() {
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let lines: Vec<String> = (0..500).map(apache_line).collect();
    std::fs::write(logs.join("app.log"), lines.join("\n") + "\n").unwrap();
    let config = root.path().join("app.yaml");
    let out = root.path().join("out.ndjson");
    std::fs::write(
        &config,
        format!(
            "name: app\nsource: {{ paths: [\"{}/*.log\"] }}\nbuffer: {{ partitions: 2 }}\ncleaner:\n  steps:\n    - grok: {{ field: message, patterns: ['%{{COMBINEDAPACHELOG}}'] }}\nsink: {{ type: file, path: \"{}\" }}\n",
            logs.display(),
            out.display()
        ),
    )
    .unwrap();
    let data = root.path().join("data");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let ready = wait_until(Duration::from_secs(20), || {
        get(&format!("{base}/ready")).is_some_and(|(c, _)| c == 200)
    });
    let delivered = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(&out).is_ok_and(|s| s.lines().count() == 500)
    });
    let health = get(&format!("{base}/health"));
    let metrics = get(&format!("{base}/metrics"))
        .map(|(_, b)| b)
        .unwrap_or_default();
    let pipelines = get(&format!("{base}/api/pipelines"))
        .map(|(_, b)| b)
        .unwrap_or_default();
    let topics = get(&format!("{base}/api/topics"))
        .map(|(_, b)| b)
        .unwrap_or_default();
    let groups = get(&format!("{base}/api/groups"))
        .map(|(_, b)| b)
        .unwrap_or_default();
    let console = get(&format!("{base}/")).map(|(_, b)| b).unwrap_or_default();
    // A second daemon on the same data directory is refused.
    let second = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--listen", "off", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .output()
        .unwrap();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();

    assert!(ready && delivered, "ready {ready}, delivered {delivered}");
    assert_eq!(health.map(|(c, _)| c), Some(200));
    for name in [
        "sluice_events_in_total{pipeline=\"app\",stage=\"cleaner\"} 500",
        "sluice_events_out_total{pipeline=\"app\",stage=\"sink\"} 500",
        "sluice_partition_end_offset{topic=\"app\"",
        "sluice_group_lag{group=\"app-cleaners\",topic=\"app\"",
        "sluice_group_committed_offset{group=\"app-cleaners\"",
        "sluice_source_file_bytes_behind{pipeline=\"app\"",
        "sluice_oldest_unacked_age_seconds{group=\"app-cleaners\",topic=\"app\"} 0",
        "sluice_stage_batch_seconds_bucket",
    ] {
        assert!(metrics.contains(name), "metrics lack {name}:\n{metrics}");
    }
    let p: serde_json::Value = serde_json::from_str(&pipelines).unwrap();
    assert_eq!(p[0]["name"], "app");
    assert_eq!(p[0]["state"], "running");
    assert!(
        topics.contains("\"app\"") && topics.contains("\"app.dead\""),
        "{topics}"
    );
    assert!(groups.contains("app-cleaners"), "{groups}");
    assert!(console.contains("<title>sluice console</title>"));
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("LOCK") || err.contains("lock"), "{err}");
    assert_eq!(status.code(), Some(0));
}
