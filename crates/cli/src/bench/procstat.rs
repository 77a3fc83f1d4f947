//! Where a server's CPU went during a read slice: user and system time,
//! minor page faults, and each thread's CPU time and time waiting for a CPU
//! (`/proc/<pid>/task/*/{stat,schedstat}`), beside the machine's other
//! work and the hypervisor's steal (`/proc/stat`). A slice slower than its
//! neighbours then says whether the server did more per request (which
//! thread), waited for a CPU, or lost it to another process.
//!
//! Diagnostics only: a figure `/proc` does not give is 0, never an error
//! (Linux's `proc(5)` describes every field read here).

use std::collections::BTreeMap;

use serde::Serialize;

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`, 100 on every
/// architecture this bench runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// One thread's totals so far.
#[derive(Debug, Clone)]
struct ThreadTotals {
    name: String,
    cpu_ticks: f64,
    wait_ns: f64,
    last_cpu: i64,
}

/// A process's and the machine's totals at one moment.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    user_ticks: f64,
    system_ticks: f64,
    minor_faults: f64,
    threads: BTreeMap<i32, ThreadTotals>,
    /// The machine's busy and steal ticks ([`machine_ticks`]).
    machine_busy_ticks: f64,
    machine_steal_ticks: f64,
}

/// The fields after the command name of a `stat` file (`proc(5)` numbers
/// them from 1 with `pid` and `comm`; here `state`, field 3, is index 0).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect()
}

/// Field `number` as `proc(5)` numbers it (3 or more; 0 where absent).
fn field(fields: &[&str], number: usize) -> f64 {
    number
        .checked_sub(3)
        .and_then(|index| fields.get(index))
        .and_then(|f| f.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// `/proc/<pid>/stat` (empty when unreadable).
fn process_stat(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default()
}

/// `/proc/stat`'s `cpu` line: every CPU's busy ticks (user, nice, system,
/// irq, softirq: all but idle and iowait) and steal ticks.
fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find_map(|l| l.strip_prefix("cpu ")) else {
        return (0.0, 0.0);
    };
    // user nice system idle iowait irq softirq steal …
    let ticks: Vec<f64> = line
        .split_whitespace()
        .map(|t| t.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0);
    (at(0) + at(1) + at(2) + at(5) + at(6), at(7))
}

/// CPU time (user + system, every thread) process `pid` used so far, in
/// seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = process_stat(pid);
    let fields = stat_fields(&stat);
    // proc(5): utime 14, stime 15.
    (field(&fields, 14) + field(&fields, 15)) / TICKS_PER_SEC
}

/// CPU time the hypervisor stole from this VM so far, every CPU, in ms.
pub fn steal_ms() -> f64 {
    machine_ticks().1 / TICKS_PER_SEC * 1e3
}

impl Sample {
    /// `pid`'s totals and the machine's, now.
    pub fn take(pid: u32) -> Sample {
        let stat = process_stat(pid);
        let fields = stat_fields(&stat);
        let mut sample = Sample {
            // proc(5): minflt 10, utime 14, stime 15.
            minor_faults: field(&fields, 10),
            user_ticks: field(&fields, 14),
            system_ticks: field(&fields, 15),
            ..Sample::default()
        };
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                let path = task.path();
                let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
                let name = stat
                    .split_once('(')
                    .and_then(|(_, rest)| rest.rsplit_once(')'))
                    .map_or("", |(name, _)| name)
                    .to_string();
                let fields = stat_fields(&stat);
                let wait_ns = std::fs::read_to_string(path.join("schedstat"))
                    .unwrap_or_default()
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0.0);
                sample.threads.insert(
                    tid,
                    ThreadTotals {
                        name,
                        cpu_ticks: field(&fields, 14) + field(&fields, 15),
                        wait_ns,
                        // proc(5): processor 39, the CPU it last ran on.
                        last_cpu: field(&fields, 39) as i64,
                    },
                );
            }
        }
        (sample.machine_busy_ticks, sample.machine_steal_ticks) = machine_ticks();
        sample
    }
}

/// One thread's use over a slice.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadUse {
    pub name: String,
    pub tid: i32,
    pub cpu_ms: f64,
    /// Time runnable but waiting for a CPU.
    pub wait_ms: f64,
    /// The CPU it ran on last, at the slice's end.
    pub last_cpu: i64,
}

/// A process's use over a slice, per request where it says so.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessUse {
    pub user_us_per_request: f64,
    pub system_us_per_request: f64,
    pub minor_faults_per_request: f64,
    /// Threads that ran or waited at least a millisecond, busiest first.
    pub threads: Vec<ThreadUse>,
    /// CPU time of every other process on the machine (the bench client
    /// included), and the hypervisor's steal, over the slice.
    pub others_cpu_ms: f64,
    pub steal_ms: f64,
}

impl ProcessUse {
    /// The change from `before` to `after` over `requests` requests.
    pub fn between(before: &Sample, after: &Sample, requests: u64) -> ProcessUse {
        let per_request = |ticks: f64| ticks / TICKS_PER_SEC * 1e6 / requests.max(1) as f64;
        let ms = |ticks: f64| ticks / TICKS_PER_SEC * 1e3;
        let mut threads: Vec<ThreadUse> = after
            .threads
            .iter()
            .map(|(&tid, now)| {
                let (cpu0, wait0) = before
                    .threads
                    .get(&tid)
                    .map_or((0.0, 0.0), |t| (t.cpu_ticks, t.wait_ns));
                ThreadUse {
                    name: now.name.clone(),
                    tid,
                    cpu_ms: ms(now.cpu_ticks - cpu0),
                    wait_ms: (now.wait_ns - wait0) / 1e6,
                    last_cpu: now.last_cpu,
                }
            })
            .filter(|t| t.cpu_ms >= 1.0 || t.wait_ms >= 1.0)
            .collect();
        threads.sort_by(|a, b| b.cpu_ms.total_cmp(&a.cpu_ms));
        let process_ticks =
            (after.user_ticks + after.system_ticks) - (before.user_ticks + before.system_ticks);
        ProcessUse {
            user_us_per_request: per_request(after.user_ticks - before.user_ticks),
            system_us_per_request: per_request(after.system_ticks - before.system_ticks),
            minor_faults_per_request: (after.minor_faults - before.minor_faults)
                / requests.max(1) as f64,
            threads,
            others_cpu_ms: ms(
                (after.machine_busy_ticks - before.machine_busy_ticks) - process_ticks
            ),
            steal_ms: ms(after.machine_steal_ticks - before.machine_steal_ticks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_is_charged_its_cpu_time() {
        // This thread's id: /proc/thread-self links to <pid>/task/<tid>.
        let tid: i32 = std::fs::read_link("/proc/thread-self")
            .expect("/proc/thread-self")
            .file_name()
            .and_then(|t| t.to_str()?.parse().ok())
            .expect("a tid");
        let ticks = |sample: &Sample| sample.threads.get(&tid).map(|t| t.cpu_ticks);
        let before = Sample::take(std::process::id());
        assert!(ticks(&before).is_some(), "this thread is not in {before:?}");
        // Spin until the kernel has charged a tick (10 ms) to this thread.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        let mut after = Sample::take(std::process::id());
        while ticks(&after) == ticks(&before)
            && started.elapsed() < std::time::Duration::from_secs(10)
        {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            after = Sample::take(std::process::id());
        }
        let used = ProcessUse::between(&before, &after, 1);
        assert!(
            used.user_us_per_request + used.system_us_per_request > 0.0,
            "the process was charged nothing: {used:?}"
        );
        let this = used.threads.iter().find(|t| t.tid == tid);
        assert!(
            this.is_some_and(|t| t.cpu_ms >= 10.0),
            "this thread was charged less than a tick after 10 s of spinning: {used:?}"
        );
    }

    #[test]
    fn a_comm_with_parentheses_and_spaces_is_read_whole() {
        // proc(5): comm is in parentheses and may hold both.
        let stat = "42 (a (b) c) S 1 2 3 0 -1 0 7 0 0 0 11 13 0 0";
        let fields = stat_fields(stat);
        assert_eq!(field(&fields, 3) as i64, 0, "state is not a number");
        assert_eq!(field(&fields, 10), 7.0);
        assert_eq!(field(&fields, 14), 11.0);
        assert_eq!(field(&fields, 15), 13.0);
    }
}
