//! `sluice test`: run a pipeline's steps over sample lines and print the events, or check the
//! pipeline's `tests:`.

use crate::cleaner::{Cleaner, Processed};
use crate::config::error::did_you_mean;
use crate::config::plan::{ExpectedOutcome, PipelinePlan, TestCase};
use crate::config::{self, ConfigError};
use crate::event::Event;
use crate::value::Value;
use anyhow::Context;
use std::io::{BufRead, Write};
use std::process::ExitCode;

/// Arguments of `sluice test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The pipeline whose steps to run.
    pub pipeline: String,
    #[command(flatten)]
    pub config: super::ConfigArg,
    /// Input lines (a file, or `-` for stdin); default: the pipeline's `test_input`.
    #[arg(long)]
    pub input: Option<std::path::PathBuf>,
    /// Run the pipeline's `tests:` and exit 1 on a mismatch.
    #[arg(long)]
    pub check: bool,
}

/// Runs `sluice test`.
pub fn execute(args: TestArgs) -> anyhow::Result<ExitCode> {
    let plans = match config::load(&args.config.config) {
        Ok(p) => p,
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            for e in errors.errors() {
                writeln!(err, "error: {e}")?;
            }
            writeln!(err, "{} error(s) in the configuration", errors.len())?;
            return Ok(ExitCode::from(2));
        }
    };
    let Some(plan) = plans.iter().find(|p| p.name == args.pipeline) else {
        let known: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        return Err(super::UsageError(
            ConfigError::UnknownPipeline {
                name: args.pipeline.clone(),
                suggestion: did_you_mean(&args.pipeline, known.iter().copied()),
                known: known.join(", "),
            }
            .to_string(),
        )
        .into());
    };
    if args.check {
        return check(plan);
    }
    let lines: Vec<String> = match &args.input {
        Some(p) if p.as_os_str() == "-" => read_lines(std::io::stdin().lock())?,
        Some(p) => {
            let f = std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
            read_lines(std::io::BufReader::new(f))?
        }
        None if !plan.test_input.is_empty() => plan.test_input.clone(),
        None => {
            return Err(super::UsageError(format!(
                "pipeline `{}` has no `test_input`; give --input FILE (or - for stdin)",
                plan.name
            ))
            .into());
        }
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in lines {
        let (event, processed) = run(&plan.cleaner.steps, &line);
        // Encoded first so that a closed stdout surfaces as the io::Error it is (a broken
        // pipe, `sluice test … | head`, is success).
        let mut line = serde_json::to_vec(&shown(event, &processed))?;
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn read_lines(r: impl BufRead) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for line in r.split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        lines.push(String::from_utf8_lossy(&line).into_owned());
    }
    Ok(lines)
}

/// Runs the steps over one line (an event holding only `message`).
pub fn run(cleaner: &Cleaner, line: &str) -> (Event, Processed) {
    let mut event = Event::from_message(line);
    let processed = cleaner.process(&mut event);
    (event, processed)
}

/// The event as printed: all fields including `@metadata`; a dropped or dead-lettered event
/// gets an `@sluice` object saying so.
pub fn shown(event: Event, processed: &Processed) -> Value {
    let mut fields = event.fields;
    match processed {
        Processed::Keep => {}
        Processed::Dropped { step } => {
            fields.insert(
                "@sluice",
                crate::value!({"outcome": "dropped", "step": step}),
            );
        }
        Processed::DeadLetter { step, reason } => {
            fields.insert(
                "@sluice",
                crate::value!({"outcome": "dead_letter", "step": step, "reason": reason}),
            );
        }
    }
    Value::Object(fields)
}

fn check(plan: &PipelinePlan) -> anyhow::Result<ExitCode> {
    if plan.tests.is_empty() {
        return Err(super::UsageError(format!(
            "pipeline `{}` has no `tests:` to check",
            plan.name
        ))
        .into());
    }
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for (i, case) in plan.tests.iter().enumerate() {
        let problems = check_case(&plan.cleaner.steps, case);
        if problems.is_empty() {
            writeln!(out, "ok   tests[{i}] ({})", case.at)?;
        } else {
            failed += 1;
            writeln!(out, "FAIL tests[{i}] ({}): {}", case.at, case.input)?;
            for p in problems {
                writeln!(out, "     {p}")?;
            }
        }
    }
    writeln!(
        out,
        "{}: {} passed, {} failed",
        plan.name,
        plan.tests.len() - failed,
        failed
    )?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The differences between what a test case expects and what the steps produce.
pub fn check_case(cleaner: &Cleaner, case: &TestCase) -> Vec<String> {
    let (event, processed) = run(cleaner, &case.input);
    let mut problems = Vec::new();
    let outcome = match &processed {
        Processed::Keep => ExpectedOutcome::Keep,
        Processed::Dropped { .. } => ExpectedOutcome::Dropped,
        Processed::DeadLetter { .. } => ExpectedOutcome::DeadLetter,
    };
    if outcome != case.outcome {
        problems.push(format!(
            "outcome: expected {:?}, got {processed:?}",
            case.outcome
        ));
    }
    for (field, want) in &case.expect {
        let got = event.get(field);
        match (want, got) {
            (Value::Null, None) => {}
            (Value::Null, Some(g)) => {
                problems.push(format!("{field}: expected absent, got {g}"));
            }
            (w, None) => problems.push(format!("{field}: expected {w}, got nothing")),
            (w, Some(g)) if !same(w, g) => problems.push(format!("{field}: expected {w}, got {g}")),
            _ => {}
        }
    }
    problems
}

/// Strict equality, except that numbers compare by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| same(a, b)))
        }
        _ => a == b,
    }
}
