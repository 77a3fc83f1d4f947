//! Run-time settings of the global allocator.

/// jemalloc: unless the operator set `_RJEM_MALLOC_CONF` (jemalloc's own
/// options, which then win), purge freed pages in background threads and
/// return them to the system after `DECAY_MS` rather than jemalloc's 10 s,
/// so what a burst of webhooks freed stops counting as resident soon after.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
pub fn configure() {
    use tikv_jemalloc_ctl::{background_thread, max_background_threads, Access, AsName};
    if std::env::var_os("_RJEM_MALLOC_CONF").is_some() {
        return;
    }
    // Before any other thread: arenas made later take the defaults
    // (`arenas.*`); the one made already (the main thread's) is set too.
    for name in [
        b"arenas.dirty_decay_ms\0".as_slice(),
        b"arenas.muzzy_decay_ms\0",
        b"arena.0.dirty_decay_ms\0",
        b"arena.0.muzzy_decay_ms\0",
    ] {
        if let Err(error) = name.name().write(DECAY_MS) {
            eprintln!("evo-voice: setting jemalloc's decay failed: {error}");
        }
    }
    // One purging thread is enough for a process that idles between bursts.
    if let Err(error) = max_background_threads::write(1) {
        eprintln!("evo-voice: limiting jemalloc's background threads failed: {error}");
    }
    if let Err(error) = background_thread::write(true) {
        eprintln!("evo-voice: starting jemalloc's background threads failed: {error}");
    }
}

/// How long jemalloc keeps freed pages before returning them, ms.
#[cfg(all(feature = "jemalloc", not(feature = "mimalloc")))]
const DECAY_MS: isize = 1000;

/// glibc's malloc and mimalloc are used with their defaults.
#[cfg(not(all(feature = "jemalloc", not(feature = "mimalloc"))))]
pub fn configure() {}
