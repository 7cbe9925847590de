//! The `sluice` binary: parse, run, map errors to exit codes (0 ok, 1 failure, 2 usage/config).

use std::process::ExitCode;

/// mimalloc: events are many small maps and strings; the system allocator spent a fifth of the
/// pipeline's CPU in malloc/free (see docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sluice::alloc::tune_allocator();
    match sluice::cli::run() {
        Ok(code) => code,
        Err(err) => {
            // A broken pipe on stdout (`sluice consume t | head`) is success.
            if let Some(io) = err.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            if err.downcast_ref::<sluice::cli::UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
