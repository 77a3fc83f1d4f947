//! Run-time settings of the global allocator.

/// jemalloc: unless the operator set jemalloc's own options (`MALLOC_CONF`;
/// `_RJEM_MALLOC_CONF` where jemalloc cannot replace `malloc`), which then
/// win, freed pages go back to the system at once (`dirty_decay_ms` and
/// `muzzy_decay_ms` 0) instead of over 10 s: what a burst of webhooks freed
/// stops counting as resident, and a read measured no slower for it
/// (docs/benchmarks.md, "Allocator and memory per session").
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
pub fn configure() {
    use tikv_jemalloc_ctl::{Access, AsName};
    if std::env::var_os("MALLOC_CONF").is_some() || std::env::var_os("_RJEM_MALLOC_CONF").is_some()
    {
        return;
    }
    // Before any other thread starts: arenas made later take the defaults
    // (`arenas.*`), the main thread's arena exists already.
    for name in [
        b"arenas.dirty_decay_ms\0".as_slice(),
        b"arenas.muzzy_decay_ms\0",
        b"arena.0.dirty_decay_ms\0",
        b"arena.0.muzzy_decay_ms\0",
    ] {
        if let Err(error) = name.name().write(0_isize) {
            eprintln!("evo-voice: setting jemalloc's decay failed: {error}");
        }
    }
}

/// glibc's malloc and mimalloc run with their defaults.
#[cfg(not(all(feature = "jemalloc", not(feature = "mimalloc"))))]
pub fn configure() {}
