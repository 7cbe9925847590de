//! The `stdin` source: lines from standard input (or any reader) until it closes.

use super::config::StdinSourceConfig;
use super::event_builder::EventBuilder;
use super::lines::{Line, LineSplitter};
use super::multiline::Multiline;
use super::{ShipperOutput, SourceError};
use crate::event::Event;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Reads standard input until end of file (or cancel) and ships its lines to `output`.
/// Events carry `log.offset` (byte offset in the stream) but no `log.file.path` and no source
/// id (a pipe has no stable identity). Failed sends are retried while transient.
pub async fn run_stdin_source(
    pipeline: &str,
    cfg: StdinSourceConfig,
    output: Arc<dyn ShipperOutput>,
    cancel: CancellationToken,
) -> Result<(), SourceError> {
    run_reader_source(pipeline, cfg, std::io::stdin(), output, cancel).await
}

/// Like [`run_stdin_source`], reading from any blocking reader (a pipe, a socket, a test
/// buffer).
pub async fn run_reader_source<R: Read + Send + 'static>(
    pipeline: &str,
    cfg: StdinSourceConfig,
    mut input: R,
    output: Arc<dyn ShipperOutput>,
    cancel: CancellationToken,
) -> Result<(), SourceError> {
    let mut ml = match &cfg.multiline {
        Some(m) => Some(
            Multiline::new(m)
                .map_err(|e| SourceError::Config(format!("multiline.pattern: {e}")))?,
        ),
        None => None,
    };
    let (tx, mut rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    // A blocking read cannot be interrupted: the thread ends with the input or when the
    // receiver is gone after its next read.
    std::thread::Builder::new()
        .name("sluice-stdin".into())
        .spawn(move || {
            loop {
                let mut buf = vec![0u8; 256 * 1024];
                match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(buf)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        break;
                    }
                }
            }
        })
        .map_err(|e| SourceError::Internal(format!("spawning stdin reader: {e}")))?;

    let mut builder = EventBuilder::new(cfg.host_name.clone(), &cfg.fields, &cfg.tags);
    let mut splitter = LineSplitter::new(cfg.max_line_bytes, 0);
    let mut batch: Vec<Event> = Vec::new();
    let max = cfg.batch_events.max(1);
    let label = pipeline.to_string();
    let mut tick =
        tokio::time::interval(cfg.flush_interval.max(std::time::Duration::from_millis(1)));
    let mut done = false;
    while !done {
        let chunk = tokio::select! {
            _ = cancel.cancelled() => { done = true; None }
            c = rx.recv() => match c {
                Some(Ok(c)) => Some(c),
                Some(Err(e)) => return Err(SourceError::Io { what: "reading", path: "<stdin>".into(), source: e }),
                None => { done = true; None }
            },
            _ = tick.tick() => None,
        };
        let now = Instant::now();
        builder.refresh_time();
        let mut emit =
            |l: Line<'_>| batch.push(builder.build(None, None, l.offset, l.bytes, l.flags));
        match chunk {
            Some(c) => splitter.feed(&c, &mut |l| match &mut ml {
                Some(m) => m.push(l, now, &mut emit),
                None => emit(l),
            }),
            None if done => {
                splitter.flush_partial(&mut |l| match &mut ml {
                    Some(m) => m.push(l, now, &mut emit),
                    None => emit(l),
                });
                if let Some(m) = &mut ml {
                    m.flush(&mut emit);
                }
            }
            None => {
                if let Some(m) = &mut ml {
                    m.flush_if_timed_out(now, &mut emit);
                }
            }
        }
        if batch.len() >= max || (!batch.is_empty() && (done || rx.is_empty())) {
            send_with_retry(&*output, std::mem::take(&mut batch), &cancel, &label).await?;
        }
    }
    Ok(())
}

async fn send_with_retry(
    output: &dyn ShipperOutput,
    batch: Vec<Event>,
    cancel: &CancellationToken,
    label: &str,
) -> Result<(), SourceError> {
    let mut backoff = std::time::Duration::from_millis(100);
    loop {
        // A pipe cannot be re-read: keep a copy for the retry.
        match output.send(batch.clone()).await {
            Ok(()) => {
                metrics::counter!("sluice_source_events_acked_total", "pipeline" => label.to_string())
                    .increment(batch.len() as u64);
                return Ok(());
            }
            Err(e) if e.is_transient() && !cancel.is_cancelled() => {
                tracing::warn!(error = %e, "stdin: output refused a batch; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(SourceError::Output(e)),
        }
    }
}
