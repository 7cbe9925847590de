//! Dead letters are a topic, not a black hole: what grok or Elasticsearch refuses lands in
//! `<topic>.dead` with the reason, `sluice consume` shows it, and after a fix `sluice redrive`
//! delivers it — each line exactly once, with its deterministic `_id`.

mod e2e_support;
mod support;

use e2e_support::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use support::EsServer;

fn pipeline(
    root: &std::path::Path,
    logs: &std::path::Path,
    es: &str,
    fixed: bool,
) -> std::path::PathBuf {
    let dir = root.join("pipelines");
    std::fs::create_dir_all(&dir).unwrap();
    let extra = if fixed {
        r#", 'LEGACY %{WORD:[http][request][method]} %{URIPATHPARAM:[url][original]}'"#
    } else {
        ""
    };
    let yaml = format!(
        r#"name: app
source:
  paths: ["{logs}/*.log"]
  scan_interval: 200ms
buffer: {{ partitions: 2 }}
cleaner:
  workers: 1
  steps:
    - grok: {{ field: message, patterns: ['%{{COMBINEDAPACHELOG}}'{extra}], on_failure: dead_letter }}
sink:
  type: elasticsearch
  hosts: ["{es}"]
  index: logs
  bulk: {{ flush: 100ms }}
  retry: {{ initial: 10ms, max: 100ms }}
"#,
        logs = logs.display()
    );
    std::fs::write(dir.join("app.yaml"), yaml).unwrap();
    dir
}

fn sluice(args: &[&str], data: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_are_dead_lettered_with_reasons_and_redriven_after_a_fix() {
    let es = EsServer::start().await;
    // Elasticsearch refuses the documents of /item/7 with a mapping error.
    es.faults()
        .mapping_error_when(|v| v["url"]["original"] == "/item/7");
    let root = tempfile::tempdir().unwrap();
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let data = root.path().join("data");
    let config = pipeline(root.path(), &logs, &es.url(), false);
    let mut lines: Vec<String> = (0..20).map(apache_line).collect();
    lines.push("LEGACY GET /old/1".into());
    lines.push("LEGACY POST /old/2?x=1".into());
    std::fs::write(logs.join("app.log"), lines.join("\n") + "\n").unwrap();

    let daemon = Daemon::start(&config, &data, &root.path().join("daemon.log"));
    assert!(wait_until(Duration::from_secs(30), || es.total_docs() >= 19));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        daemon
            .terminate(Duration::from_secs(20))
            .and_then(|s| s.code()),
        Some(0)
    );
    assert_eq!(
        es.total_docs(),
        19,
        "20 good lines minus the one refused by the mapping"
    );

    // The dead letters, with the refusing step and reason.
    let (code, out, err) = sluice(&["consume", "app.dead", "--json"], &data);
    assert_eq!(code, 0, "{err}");
    let letters: Vec<Value> = out
        .lines()
        .map(|l| {
            let rec: Value = serde_json::from_str(l).unwrap();
            serde_json::from_str(rec["value"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(letters.len(), 3, "{out}");
    let grok: Vec<&Value> = letters
        .iter()
        .filter(|l| l["step"].as_str().unwrap().starts_with("grok"))
        .collect();
    assert_eq!(grok.len(), 2);
    assert!(grok.iter().all(|l| {
        l["stage"] == "cleaner"
            && l["event"]["message"]
                .as_str()
                .unwrap()
                .starts_with("LEGACY")
    }));
    assert!(
        grok[0]["reason"]
            .as_str()
            .unwrap()
            .contains("COMBINEDAPACHELOG"),
        "{}",
        grok[0]
    );
    let sink: Vec<&Value> = letters.iter().filter(|l| l["stage"] == "sink").collect();
    assert_eq!(sink.len(), 1);
    assert_eq!(sink[0]["status"], 400);
    assert!(
        sink[0]["reason"]
            .as_str()
            .unwrap()
            .contains("mapper_parsing_exception"),
        "{}",
        sink[0]
    );
    assert!(sink[0]["source_id"].is_string());

    // Fix the pattern and the mapping, then redrive.
    es.faults().item_rules.clear();
    let config = pipeline(root.path(), &logs, &es.url(), true);
    let (code, stdout, stderr) = sluice(
        &["redrive", "app", "--config", config.to_str().unwrap()],
        &data,
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("3 dead letters read, 3 delivered, 0 refused again"),
        "{stdout}"
    );
    assert_eq!(es.total_docs(), 22, "every line exactly once");
    let legacy = es
        .all_docs()
        .into_iter()
        .filter(|(_, _, d)| d.json()["url"]["original"] == "/old/2?x=1")
        .count();
    assert_eq!(legacy, 1);

    // A second redrive has nothing left to do.
    let (_, stdout, _) = sluice(
        &["redrive", "app", "--config", config.to_str().unwrap()],
        &data,
    );
    assert!(stdout.contains("0 dead letters read"), "{stdout}");
    assert_eq!(es.total_docs(), 22);
}
