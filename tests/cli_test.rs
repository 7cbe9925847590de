//! `sluice test`, driving the real binary.

use std::io::Write;
use std::process::{Command, Stdio};
use tempfile::TempDir;

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn pipeline(dir: &TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("p.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

const PIPE: &str = r#"name: web
source: { type: stdin }
cleaner:
  steps:
    - regex: { pattern: '^(?P<method>[A-Z]+) (?P<status>\d+)$', on_failure: tag }
    - convert: { status: integer }
    - set: { "@metadata.route": "%{method}" }
    - drop: { if: { equals: { method: HEAD } } }
    - json: { field: body, on_failure: dead_letter }
test_input: ["GET 200", "garbage"]
tests:
  - input: GET 200
    expect: { method: GET, status: 200, "@metadata.route": GET }
  - input: HEAD 200
    outcome: dropped
  - input: nonsense
    expect: { tags: [_regexparsefailure], method: null }
"#;

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn default_input_is_test_input_and_metadata_is_shown() {
    let dir = TempDir::new().unwrap();
    let out = sluice()
        .args(["test", "web", "-c"])
        .arg(pipeline(&dir, PIPE))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0],
        serde_json::json!({"message": "GET 200", "method": "GET", "status": 200, "@metadata": {"route": "GET"}})
    );
    assert_eq!(events[1]["tags"], serde_json::json!(["_regexparsefailure"]));
}

#[test]
fn input_from_stdin_marks_drops_and_dead_letters() {
    let dir = TempDir::new().unwrap();
    let mut child = sluice()
        .args(["test", "web", "--input", "-", "-c"])
        .arg(pipeline(&dir, PIPE))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"HEAD 204\r\nPOST 201\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let events = lines(&out.stdout);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["@sluice"],
        serde_json::json!({"outcome": "dropped", "step": "drop#3"})
    );
    assert_eq!(events[0]["message"], "HEAD 204");
    // POST 201 has no `body`: json does nothing. Feed one with a bad body through a file.
    assert!(events[1].get("@sluice").is_none());
    let input = dir.path().join("in.log");
    std::fs::write(&input, "GET 200\n").unwrap();
    let with_body = PIPE.replace("    - json:", "    - set: { body: \"{oops\" }\n    - json:");
    let out = sluice()
        .args(["test", "web", "--input"])
        .arg(&input)
        .arg("-c")
        .arg(pipeline(&dir, &with_body))
        .output()
        .unwrap();
    let events = lines(&out.stdout);
    assert_eq!(events[0]["@sluice"]["outcome"], "dead_letter");
    assert_eq!(events[0]["@sluice"]["step"], "json#5");
    assert!(
        events[0]["@sluice"]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
}

#[test]
fn check_passes_then_fails_with_the_differences() {
    let dir = TempDir::new().unwrap();
    let out = sluice()
        .args(["test", "web", "--check", "-c"])
        .arg(pipeline(&dir, PIPE))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("web: 3 passed, 0 failed"), "{stdout}");

    let broken = PIPE.replace(
        "convert: { status: integer }",
        "convert: { status: string }",
    );
    let out = sluice()
        .args(["test", "web", "--check", "-c"])
        .arg(pipeline(&dir, &broken))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL tests[0]"), "{stdout}");
    assert!(
        stdout.contains("status: expected 200, got \"200\""),
        "{stdout}"
    );
    assert!(stdout.contains("web: 2 passed, 1 failed"), "{stdout}");
}

#[test]
fn unknown_pipeline_and_bad_config_exit_2() {
    let dir = TempDir::new().unwrap();
    let p = pipeline(&dir, PIPE);
    let out = sluice()
        .args(["test", "wbe", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `web`?"));
    let p = pipeline(&dir, "name: web\nsource: { type: stdin, oops: 1 }\n");
    let out = sluice()
        .args(["test", "web", "-c"])
        .arg(&p)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":2:24: source: unknown key `oops`"));
}

#[test]
fn shipped_apache_pipeline_checks_green() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = sluice()
        .args(["test", "apache", "--check", "-c"])
        .arg(format!("{root}/pipelines"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn closed_stdout_is_success() {
    // `sluice test … | head -1`: the output (~200 KB) outgrows the pipe, the reader goes away.
    use std::io::BufRead;
    let root = env!("CARGO_MANIFEST_DIR");
    let mut child = sluice()
        .args(["test", "apache", "--input"])
        .arg(format!("{root}/samples/access.log"))
        .arg("-c")
        .arg(format!("{root}/pipelines"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with('{'));
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
