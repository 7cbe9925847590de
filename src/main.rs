//! The `sluice` binary: parse, run, map errors to exit codes (0 ok, 1 failure, 2 usage/config).

use std::process::ExitCode;

/// mimalloc: events are many small maps and strings; the system allocator spent a fifth of the
/// pipeline's CPU in malloc/free (see docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Return freed memory to the OS after 100 ms instead of mimalloc's default 1 s: the
/// producer's and the sink's batch buffers come and go, and this keeps the daemon's peak RSS
/// under 200 MiB in the end-to-end benchmark (213 → 183 MiB) at the same throughput; 1 ms
/// would save more memory for ~30 % more CPU (docs/PERFORMANCE.md).
fn tune_allocator() {
    // `mi_option_purge_delay` in mimalloc.h (libmimalloc-sys exports no constant for it).
    // Only set when it holds one of mimalloc's documented defaults (v3: 1000 ms, v2: 10 ms), so
    // a renumbering in a future mimalloc can never set an unrelated option.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: reads and sets a process-wide mimalloc option; valid at any time (mimalloc reads
    // it at each purge).
    unsafe {
        let current = libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY);
        if current == 1000 || current == 10 {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100);
        }
    }
}

fn main() -> ExitCode {
    tune_allocator();
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
