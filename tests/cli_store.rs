//! The store commands, driving the real binary: produce, consume, topics, groups, replay.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_sluice");

fn sluice(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("SLUICE_DATA_DIR")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A command that fails early does not read its stdin.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs and expects success; returns stdout.
fn ok(dir: &Path, args: &[&str], stdin: &str) -> String {
    let out = sluice(dir, args, stdin);
    assert!(
        out.status.success(),
        "sluice {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn lines(n: usize, prefix: &str) -> String {
    (0..n).map(|i| format!("{prefix}{i}\n")).collect()
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn produce_consume_round_trip_with_keys_and_json() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(
        d,
        &["produce", "t", "--partitions", "3", "--key", "host-a"],
        &lines(50, "a"),
    );
    ok(
        d,
        &["produce", "t", "--key", "host-b", "--acks", "1"],
        &lines(50, "b"),
    );
    ok(
        d,
        &["produce", "t", "--acks", "0"],
        "x\r\ny\n\nlast-without-newline",
    );
    let plain = ok(d, &["consume", "t"], "");
    assert_eq!(plain.lines().count(), 104);
    let records = json_lines(&ok(d, &["consume", "t", "--json"], ""));
    assert_eq!(records.len(), 104);
    for key in ["host-a", "host-b"] {
        let prefix = &key[5..];
        let of_key: Vec<&serde_json::Value> = records.iter().filter(|r| r["key"] == key).collect();
        assert_eq!(of_key.len(), 50);
        // One key, one partition, its order kept.
        assert!(
            of_key
                .iter()
                .all(|r| r["partition"] == of_key[0]["partition"])
        );
        let values: Vec<&str> = of_key
            .iter()
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..50).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(values, expected);
        assert!(
            of_key
                .iter()
                .all(|r| r["offset"].is_u64() && r["timestamp"].is_i64())
        );
    }
    let unkeyed: Vec<&str> = records
        .iter()
        .filter(|r| r["key"].is_null())
        .map(|r| r["value"].as_str().unwrap())
        .collect();
    let mut sorted = unkeyed.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec!["", "last-without-newline", "x", "y"]);
    let max = ok(d, &["consume", "t", "--max", "7"], "");
    assert_eq!(max.lines().count(), 7);
}

#[test]
fn consume_with_a_group_resumes_where_it_committed() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(d, &["produce", "t", "--partitions", "2"], &lines(10, "r"));
    let first = ok(d, &["consume", "t", "--group", "g", "--max", "4"], "");
    assert_eq!(first.lines().count(), 4);
    let rest = ok(d, &["consume", "t", "--group", "g"], "");
    assert_eq!(rest.lines().count(), 6);
    let mut all: Vec<&str> = first.lines().chain(rest.lines()).collect();
    all.sort_unstable();
    let mut expected: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    expected.sort_unstable();
    assert_eq!(all, expected, "nothing skipped, nothing repeated");
    assert_eq!(ok(d, &["consume", "t", "--group", "g"], ""), "");
    ok(d, &["produce", "t"], "late\n");
    assert_eq!(ok(d, &["consume", "t", "--group", "g"], ""), "late\n");
}

#[test]
fn topics_and_groups_tables_and_json() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(
        d,
        &["produce", "alpha", "--partitions", "2"],
        &lines(10, "v"),
    );
    ok(d, &["produce", "beta"], &lines(3, "w"));
    let table = ok(d, &["topics"], "");
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("TOPIC") && rows[0].contains("PARTITION") && rows[0].contains("END")
    );
    assert_eq!(rows.len(), 4, "{table}");
    let json: serde_json::Value = serde_json::from_str(&ok(d, &["topics", "--json"], "")).unwrap();
    let alpha = json
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["topic"] == "alpha")
        .unwrap();
    let ends: u64 = alpha["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["end"].as_u64().unwrap())
        .sum();
    assert_eq!(ends, 10);

    assert_eq!(ok(d, &["groups"], "").lines().count(), 1, "only the header");
    ok(
        d,
        &["consume", "alpha", "--group", "readers", "--max", "3"],
        "",
    );
    let table = ok(d, &["groups"], "");
    assert!(table.lines().next().unwrap().contains("LAG"));
    assert!(
        table.contains("readers") && table.contains("alpha"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(d, &["groups", "--json"], "")).unwrap();
    let g = &json[0];
    assert_eq!(g["group"], "readers");
    let lag: u64 = g["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lag"].as_u64().unwrap())
        .sum();
    assert_eq!(lag, 7);
}

fn group_total_committed(d: &Path, group: &str) -> u64 {
    let json: serde_json::Value = serde_json::from_str(&ok(d, &["groups", "--json"], "")).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter(|g| g["group"] == group)
        .flat_map(|g| g["partitions"].as_array().unwrap().iter())
        .map(|p| p["committed"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn replay_to_earliest_offset_and_time() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(d, &["produce", "t"], &lines(10, "old"));
    std::thread::sleep(Duration::from_millis(30));
    let cut = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(30));
    ok(d, &["produce", "t"], &lines(5, "new"));
    assert_eq!(
        ok(d, &["consume", "t", "--group", "g"], "").lines().count(),
        15
    );
    assert_eq!(group_total_committed(d, "g"), 15);

    ok(
        d,
        &["replay", "--group", "g", "--topic", "t", "--to-earliest"],
        "",
    );
    assert_eq!(group_total_committed(d, "g"), 0);
    assert_eq!(
        ok(d, &["consume", "t", "--group", "g"], "").lines().count(),
        15
    );

    let table = ok(
        d,
        &[
            "replay",
            "--group",
            "g",
            "--topic",
            "t",
            "--to-offset",
            "12",
        ],
        "",
    );
    assert!(
        table.contains("PREVIOUS") && table.contains("15"),
        "{table}"
    );
    assert_eq!(
        ok(d, &["consume", "t", "--group", "g"], ""),
        "new2\nnew3\nnew4\n"
    );

    let when = cut.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    ok(
        d,
        &["replay", "--group", "g", "--topic", "t", "--to-time", &when],
        "",
    );
    assert_eq!(
        ok(d, &["consume", "t", "--group", "g"], ""),
        lines(5, "new")
    );

    // Usage errors exit 2.
    let bad = sluice(
        d,
        &[
            "replay",
            "--group",
            "g",
            "--topic",
            "t",
            "--to-time",
            "yesterday",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(2));
    let bad = sluice(d, &["replay", "--group", "g", "--topic", "t"], "");
    assert_eq!(bad.status.code(), Some(2));
    let missing = sluice(
        d,
        &["replay", "--group", "g", "--topic", "nope", "--to-earliest"],
        "",
    );
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn topics_verify_passes_a_clean_dir_and_finds_a_flipped_byte() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    for i in 0..20 {
        ok(
            d,
            &["produce", "t", "--acks", "1"],
            &lines(20, &format!("batch{i}-")),
        );
    }
    let clean = sluice(d, &["topics", "--verify"], "");
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let segment = std::fs::read_dir(d.join("topics/t/0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let broken = sluice(d, &["topics", "--verify"], "");
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stdout).to_string()
        + &String::from_utf8_lossy(&broken.stderr);
    let name = segment.file_name().unwrap().to_str().unwrap();
    assert!(text.contains(name), "the report names the segment: {text}");
    let json = sluice(d, &["topics", "--verify", "--json"], "");
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!v[0]["problems"].as_array().unwrap().is_empty());
}

#[test]
fn admin_commands_work_while_another_process_holds_the_lock() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(d, &["produce", "t", "--partitions", "2"], &lines(10, "r"));
    // A long-running consumer holds the data directory's lock.
    let mut holder = Command::new(BIN)
        .args(["consume", "t", "--group", "live", "--follow", "--data-dir"])
        .arg(d)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(holder.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.starts_with('r'));

    // Read-only commands answer.
    assert!(ok(d, &["topics"], "").contains('t'));
    assert!(sluice(d, &["topics", "--verify"], "").status.success());
    ok(d, &["groups"], "");
    assert_eq!(
        ok(d, &["consume", "t", "--from-beginning"], "")
            .lines()
            .count(),
        10
    );
    // Commands that write refuse clearly, naming the holder.
    for args in [
        vec!["produce", "t"],
        vec!["replay", "--group", "live", "--topic", "t", "--to-earliest"],
        vec!["consume", "t", "--group", "other"],
    ] {
        let refused = sluice(d, &args, "x\n");
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(
            err.contains("lock") && err.contains(&holder.id().to_string()),
            "{args:?}: {err}"
        );
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Nothing was corrupted, and the killed holder's commits are readable.
    assert!(sluice(d, &["topics", "--verify"], "").status.success());
    ok(d, &["groups"], "");
    ok(d, &["produce", "t"], "after\n");
}

#[test]
fn consume_follow_without_group_sees_another_process_appends() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    ok(d, &["produce", "t"], "before\n");
    let mut follower = Command::new(BIN)
        .args(["consume", "t", "--follow", "--max", "2", "--data-dir"])
        .arg(d)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ok(d, &["produce", "t"], "one\ntwo\n");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut follower.stdout.take().unwrap(), &mut out).unwrap();
    assert!(follower.wait().unwrap().success());
    // --follow alone starts at the end: only the new records, and --max stops it.
    assert_eq!(out, "one\ntwo\n");
}

#[test]
fn read_only_commands_beside_a_live_producer() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let mut producer = Command::new(BIN)
        .args([
            "produce",
            "live",
            "--partitions",
            "2",
            "--acks",
            "1",
            "--data-dir",
        ])
        .arg(d)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = producer.stdin.take().unwrap();
    // Lines trickle in: each is produced as it arrives, not at EOF.
    let mut written = 0;
    let mut seen_live = 0;
    for round in 0..20 {
        for _ in 0..10 {
            writeln!(input, "line {written}").unwrap();
            written += 1;
        }
        input.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        if round % 5 == 4 {
            let verify = sluice(d, &["topics", "--verify"], "");
            assert!(
                verify.status.success(),
                "verify beside a writer: {}",
                String::from_utf8_lossy(&verify.stdout)
            );
            seen_live = ok(d, &["consume", "live"], "").lines().count();
            ok(d, &["groups"], "");
        }
    }
    assert!(seen_live > 0, "records were produced before EOF");
    drop(input);
    let status = producer.wait().unwrap();
    assert!(status.success());
    let all = ok(d, &["consume", "live"], "");
    assert_eq!(all.lines().count(), written);
}

#[test]
fn usage_errors_exit_2_and_runtime_errors_exit_1() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    assert_eq!(
        sluice(d, &["produce", "t", "--acks", "2"], "x\n")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sluice(d, &["produce", "t", "--partitions", "0"], "x\n")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sluice(d, &["consume", "t", "--group", "a/b"], "")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        sluice(d, &["consume", "t", "--bogus"], "").status.code(),
        Some(2)
    );
    // Nothing above created anything.
    assert!(!d.join("topics").exists());
    ok(d, &["produce", "t"], "x\n");
    assert_eq!(
        sluice(d, &["consume", "missing"], "").status.code(),
        Some(1)
    );
    assert_eq!(
        sluice(d, &["consume", "missing", "--group", "g"], "")
            .status
            .code(),
        Some(1)
    );
    let gone = d.join("not-there");
    let out = Command::new(BIN)
        .args(["consume", "t", "--group", "g", "--data-dir"])
        .arg(&gone)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !gone.exists(),
        "a read command must not create the data directory"
    );
}

#[test]
fn consume_prints_event_records_as_json() {
    use sluice::event::Event;
    use sluice::store::{Acks, Record, Store, TopicConfig};
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let mut e = Event::from_message("GET \"/\" 200");
    e.insert("log.offset", sluice::value!(7));
    {
        let store = Store::open(d).unwrap();
        let t = store
            .create_topic("events", TopicConfig::default())
            .unwrap();
        let value = e.encode();
        assert_eq!(value[0], 0xF5, "an event record is binary in the log");
        t.append(0, &[Record::new(value)], Acks::Written).unwrap();
    }
    let plain = ok(d, &["consume", "events"], "");
    assert_eq!(
        plain,
        "{\"message\":\"GET \\\"/\\\" 200\",\"log\":{\"offset\":7}}\n"
    );
    let records = json_lines(&ok(d, &["consume", "events", "--json"], ""));
    assert_eq!(
        records[0]["value"],
        "{\"message\":\"GET \\\"/\\\" 200\",\"log\":{\"offset\":7}}"
    );
}
