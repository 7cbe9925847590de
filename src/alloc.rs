//! Allocator tuning shared by the binary and the benchmarks (which use the same global
//! allocator, mimalloc, so that they measure what users run).

/// Return freed memory to the OS after 100 ms instead of mimalloc's default 1 s: the
/// producer's and the sink's batch buffers come and go, and this keeps the daemon's peak RSS
/// under 200 MiB in the end-to-end benchmark (213 → 183 MiB) at the same throughput; 1 ms
/// would save more memory for ~30 % more CPU (docs/PERFORMANCE.md). Measured again after the
/// workers' cleaning threads: 1 s gives 175 MiB and 4–8 % less CPU end to end, but lifts
/// the shipper benchmark's peak to 62 MiB, too near its 64 MiB budget.
///
/// A `MIMALLOC_PURGE_DELAY` set in the environment wins (to measure other settings).
pub fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
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
