//! The async runtime of `evo-voice`: tokio's multi-thread runtime, one
//! worker per CPU, and for the servers (`serve`, `demo` and the bench's
//! static-bytes server, which must run on the same stack as `serve`) each
//! worker kept on a CPU of its own.
//!
//! Why (docs/benchmarks.md, "Half-rate stall (issue 12, session 10,
//! `stall`)"): at 80 % load on two CPUs the kernel often put both workers
//! on one CPU (a worker waking its sibling through a futex is placed
//! beside itself when the other CPU is busy), where they took turns in
//! 4-ms ticks while the requests held by the one not running waited: the
//! half-rate run's slow windows. A worker pinned to its own CPU still
//! shares it with whatever else runs there, and tokio's work stealing
//! moves queued tasks to the other worker meanwhile.
//!
//! `EVO_PIN_WORKERS=0` turns it off. Nothing is pinned when there are more
//! workers than CPUs allowed (`TOKIO_WORKER_THREADS`, `taskset`), or
//! fewer than two of either.

use std::cell::Cell;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::runtime::{Builder, Runtime};

/// The variable that turns the workers' pinning off (`0`, `false`, `no`).
pub const PIN_VARIABLE: &str = "EVO_PIN_WORKERS";

/// How often [`keep`] puts the threads' affinities right.
const KEEP_EVERY: Duration = Duration::from_secs(1);

/// Builds the runtime; with `pin`, each worker moves to a CPU of its own
/// before it first waits for work.
pub fn build(pin: bool) -> std::io::Result<Runtime> {
    let mut builder = Builder::new_multi_thread();
    builder.enable_all();
    if pin && pinning_enabled(std::env::var(PIN_VARIABLE).ok().as_deref()) {
        let workers = worker_threads();
        if let Some(placement) = Placement::new(workers, process_cpus()) {
            builder.worker_threads(workers);
            let placement = Arc::new(placement);
            let hook = placement.clone();
            // Only workers park (the blocking pool's threads do not), so
            // this hook tells them from the blocking threads.
            builder.on_thread_park(move || hook.pin_this_worker_once());
            // A thread inherits the affinity of the thread that starts it:
            // a blocking thread started from a worker gets the process's
            // back at once, others (SQLite's connection threads) from
            // `keep` within a second.
            builder.on_thread_start(|| set_cpus(None, &process_cpus()));
            let keeper = placement.clone();
            std::thread::Builder::new()
                .name("evo-affinity".to_string())
                .spawn(move || loop {
                    std::thread::sleep(KEEP_EVERY);
                    keep(&keeper);
                })?;
        }
    }
    builder.build()
}

fn pinning_enabled(variable: Option<&str>) -> bool {
    !matches!(
        variable
            .map(str::trim)
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("0" | "false" | "no" | "off")
    )
}

/// How many workers tokio would start: `TOKIO_WORKER_THREADS`, else one per
/// CPU this process may use.
fn worker_threads() -> usize {
    std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|value| value.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

thread_local! {
    /// Whether this thread has taken its CPU already.
    static PLACED: Cell<bool> = const { Cell::new(false) };
}

/// Which CPU each worker takes: the n-th worker to park takes the n-th CPU
/// the process may use.
struct Placement {
    workers: usize,
    /// Thread ids of the workers, in the order they first parked.
    tids: Mutex<Vec<i32>>,
}

impl Placement {
    /// `None` when pinning cannot give each worker a CPU of its own.
    fn new(workers: usize, allowed: Vec<usize>) -> Option<Placement> {
        if workers < 2 || workers > allowed.len() {
            return None;
        }
        Some(Placement {
            workers,
            tids: Mutex::new(Vec::new()),
        })
    }

    /// Called on every park: a thread-local check after the first.
    fn pin_this_worker_once(&self) {
        if PLACED.get() {
            return;
        }
        PLACED.set(true);
        let index = {
            let mut tids = self.tids.lock().unwrap_or_else(PoisonError::into_inner);
            tids.push(this_tid());
            tids.len() - 1
        };
        set_cpus(None, &wanted(&process_cpus(), Some(index), self.workers));
    }
}

/// The CPUs a thread should have when the process's main thread has
/// `process` (what `taskset` or the bench set last): worker `i` the i-th
/// of them while each worker can have its own, every other thread all.
fn wanted(process: &[usize], worker: Option<usize>, workers: usize) -> Vec<usize> {
    match worker {
        Some(index) if workers >= 2 && process.len() >= workers => process
            .get(index)
            .map_or_else(|| process.to_vec(), |&cpu| vec![cpu]),
        _ => process.to_vec(),
    }
}

/// Puts every thread of the process on the CPUs [`wanted`] gives it: a
/// thread started by a pinned worker back on the process's CPUs, the
/// workers back on their own after a whole-process `taskset` that left
/// them more than one.
fn keep(placement: &Placement) {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return;
    };
    let tids: Vec<i32> = tasks
        .flatten()
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect();
    keep_these(placement, &process_cpus(), &tids);
}

fn keep_these(placement: &Placement, process: &[usize], tids: &[i32]) {
    if process.is_empty() {
        return;
    }
    let workers = placement
        .tids
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    for &tid in tids {
        let want = wanted(
            process,
            workers.iter().position(|&worker| worker == tid),
            placement.workers,
        );
        let has = cpus_of(Some(tid));
        if !has.is_empty() && has != want {
            set_cpus(Some(tid), &want);
        }
    }
}

/// The CPUs this process may run on (its main thread's), in order.
fn process_cpus() -> Vec<usize> {
    cpus_of(Some(std::process::id() as i32))
}

#[cfg(target_os = "linux")]
fn this_tid() -> i32 {
    rustix::thread::gettid().as_raw_nonzero().get()
}

/// A thread's CPUs (`None`: the calling thread's); empty when unknown.
#[cfg(target_os = "linux")]
fn cpus_of(tid: Option<i32>) -> Vec<usize> {
    let pid = tid.and_then(rustix::thread::Pid::from_raw);
    match rustix::thread::sched_getaffinity(pid) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU)
            .filter(|&cpu| set.is_set(cpu))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Best effort: a failure (a thread gone, a container refusing) leaves the
/// thread where it was.
#[cfg(target_os = "linux")]
fn set_cpus(tid: Option<i32>, cpus: &[usize]) {
    if cpus.is_empty() {
        return;
    }
    let mut set = rustix::thread::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu);
    }
    let pid = tid.and_then(rustix::thread::Pid::from_raw);
    if let Err(error) = rustix::thread::sched_setaffinity(pid, &set) {
        tracing::debug!(%error, ?cpus, "setting a thread's CPUs failed");
    }
}

#[cfg(not(target_os = "linux"))]
fn this_tid() -> i32 {
    0
}

#[cfg(not(target_os = "linux"))]
fn cpus_of(_tid: Option<i32>) -> Vec<usize> {
    Vec::new()
}

#[cfg(not(target_os = "linux"))]
fn set_cpus(_tid: Option<i32>, _cpus: &[usize]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_needs_a_cpu_for_each_of_at_least_two_workers() {
        assert!(Placement::new(2, vec![0, 1]).is_some());
        assert!(Placement::new(2, vec![1, 3, 5]).is_some());
        assert!(
            Placement::new(3, vec![0, 1]).is_none(),
            "more workers than CPUs"
        );
        assert!(Placement::new(1, vec![0, 1]).is_none(), "one worker");
        assert!(Placement::new(2, vec![]).is_none(), "affinity unknown");
    }

    #[test]
    fn worker_i_takes_the_ith_cpu_and_every_other_thread_all_of_them() {
        assert_eq!(wanted(&[0, 1], Some(0), 2), vec![0]);
        assert_eq!(wanted(&[0, 1], Some(1), 2), vec![1]);
        assert_eq!(wanted(&[1, 3, 5], Some(1), 2), vec![3]);
        assert_eq!(wanted(&[0, 1], None, 2), vec![0, 1]);
        // The bench put the whole process on one CPU: the workers share it.
        assert_eq!(wanted(&[0], Some(1), 2), vec![0]);
        // A third thread that parked (there are two workers) is not one.
        assert_eq!(wanted(&[0, 1, 2], Some(5), 2), vec![0, 1, 2]);
    }

    #[test]
    fn the_variable_turns_pinning_off_only_when_it_says_so() {
        assert!(pinning_enabled(None));
        assert!(pinning_enabled(Some("1")));
        for off in ["0", "false", "No", " off "] {
            assert!(!pinning_enabled(Some(off)), "{off:?}");
        }
    }

    /// The hooks `build` installs pin the workers, and only them: a
    /// blocking-pool thread keeps every CPU the process has.
    #[cfg(target_os = "linux")]
    #[test]
    fn workers_are_pinned_when_they_first_park_and_blocking_threads_are_not() {
        let process = process_cpus();
        assert!(!process.is_empty(), "the process runs on some CPU");
        let placement = Arc::new(Placement {
            workers: 2,
            tids: Mutex::new(Vec::new()),
        });
        let hook = placement.clone();
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_park(move || hook.pin_this_worker_once())
            .on_thread_start(|| set_cpus(None, &process_cpus()))
            .build()
            .expect("runtime");
        runtime.block_on(async {
            // Both workers start idle and park before any task exists.
            while placement.tids.lock().expect("tids").len() < 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let tids = placement.tids.lock().expect("tids").clone();
            for (index, &tid) in tids.iter().enumerate() {
                assert_eq!(cpus_of(Some(tid)), wanted(&process, Some(index), 2));
            }
            for _ in 0..16 {
                let (tid, cpus) = tokio::spawn(async { (this_tid(), cpus_of(None)) })
                    .await
                    .expect("task");
                let index = tids.iter().position(|&worker| worker == tid);
                assert!(index.is_some(), "a task ran on a worker");
                assert_eq!(cpus, wanted(&process, index, 2));
            }
            // Started from a worker, which is pinned.
            let blocking =
                tokio::spawn(async { tokio::task::spawn_blocking(|| cpus_of(None)).await })
                    .await
                    .expect("task")
                    .expect("blocking task");
            assert_eq!(blocking, process);
        });
    }

    /// A thread that inherited a worker's single CPU gets the process's back.
    #[cfg(target_os = "linux")]
    #[test]
    fn keep_gives_a_thread_started_by_a_pinned_one_the_processs_cpus() {
        let process = process_cpus();
        let first = *process.first().expect("the process runs on some CPU");
        let (started, tid) = std::sync::mpsc::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let pinned = std::thread::spawn(move || {
            set_cpus(None, &[first]);
            std::thread::spawn(move || {
                started.send((this_tid(), cpus_of(None))).expect("send");
                let _ = wait.recv();
                cpus_of(None)
            })
            .join()
            .expect("inner thread")
        });
        let (inner, inherited) = tid.recv().expect("started");
        assert_eq!(
            inherited,
            vec![first],
            "threads inherit their starter's CPUs"
        );
        let placement = Placement {
            workers: 2,
            tids: Mutex::new(Vec::new()),
        };
        keep_these(&placement, &process, &[inner]);
        assert_eq!(cpus_of(Some(inner)), process);
        release.send(()).expect("release");
        assert_eq!(pinned.join().expect("pinned thread"), process);
    }
}
