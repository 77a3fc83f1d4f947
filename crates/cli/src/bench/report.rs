//! The bench's report: a table for people, the same as JSON for scripts.

use std::io::Write;

use serde::Serialize;

use crate::bench::load::Outcome;
use crate::cli::BenchArgs;

/// Fan-out samples of the full profile.
pub const FANOUT_SAMPLES: usize = 2_000;

/// The run's sizes: flags, else `--quick`'s, else the full profile's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    pub users: usize,
    pub sessions_per_user: usize,
    pub history: usize,
    pub ingest_calls: usize,
    pub connections: usize,
    pub duration_secs: f64,
    pub subscribers: usize,
    pub fanout_samples: usize,
    /// Whether the server's fan-out step timings are recorded.
    pub fanout_steps: bool,
}

impl Plan {
    pub fn from_args(args: &BenchArgs) -> anyhow::Result<Plan> {
        let quick = args.quick;
        let pick = |given: Option<usize>, quick_value: usize, full: usize| {
            given.unwrap_or(if quick { quick_value } else { full })
        };
        let users = pick(args.users, 50, 2_000).max(1);
        let plan = Plan {
            users,
            sessions_per_user: pick(args.sessions_per_user, 2, 3),
            history: pick(args.history, 2_000, 1_000_000),
            ingest_calls: pick(args.ingest_calls, 200, 1_000).max(1),
            connections: pick(args.connections, 64, 64).max(1),
            duration_secs: args
                .duration_secs
                .unwrap_or(if quick { 1.0 } else { 10.0 })
                .max(0.1),
            subscribers: pick(args.subscribers, users, users),
            // 2,000: the p99 is then the 20th-worst sample, its 95 %
            // interval between the 12th and the 29th (docs/benchmarks.md);
            // the subscribers' heartbeats keep them past the idle timeout.
            fanout_samples: pick(args.fanout_samples, 50, FANOUT_SAMPLES),
            fanout_steps: args.fanout_steps,
        };
        anyhow::ensure!(
            plan.history >= plan.ingest_calls,
            "--history ({}) must be at least --ingest-calls ({}): the ingest calls are the first ended sessions",
            plan.history,
            plan.ingest_calls
        );
        Ok(plan)
    }
}

/// Throughput and latency of one phase.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub ok: u64,
    pub errors: u64,
    pub secs: f64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Figures {
    pub fn of(outcome: &Outcome) -> Figures {
        let empty = outcome.latency.is_empty();
        let ms = |q: f64| if empty { 0.0 } else { outcome.ms(q) };
        Figures {
            ok: outcome.ok,
            errors: outcome.errors,
            secs: outcome.elapsed.as_secs_f64(),
            per_sec: outcome.per_second(),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: if empty {
                0.0
            } else {
                outcome.latency.max() as f64 / 1000.0
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    pub memory_bytes: u64,
    pub kernel: String,
    /// `/proc/loadavg` when the run started and when it ended: other work
    /// on the machine shares the cores with the server and the bench.
    pub load_at_start: String,
    pub load_at_end: String,
}

impl Machine {
    pub fn detect(load_at_start: String) -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
            .unwrap_or_default();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kib| kib * 1024);
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            memory_bytes,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            load_at_start,
            load_at_end: load_average(),
        }
    }
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Debug, Serialize)]
pub struct Setup {
    pub seed_secs: f64,
    /// The active calls' webhooks (voice, agent leg ringing, answered).
    pub active: Figures,
    /// The ingest calls' voice webhooks (not part of the ingest figure).
    pub ingest_opens: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadRun {
    pub evo: Figures,
    /// The static-bytes server: the stack's limit.
    pub limit: Figures,
    pub ratio: f64,
    pub response_bytes: usize,
    pub sessions_per_response: usize,
    /// Server CPU time (user + system, every thread) per request, averaged
    /// over the slices: what each request costs, whatever the machine's load.
    pub evo_server_cpu_us_per_request: f64,
    pub limit_server_cpu_us_per_request: f64,
    /// `limit_server_cpu_us_per_request / evo_server_cpu_us_per_request`.
    pub cpu_ratio: f64,
    /// Every slice, in the order run (evo and static alternating).
    pub slices: Vec<ReadSlice>,
    /// Each pair of adjacent slices' ratio (evo-voice's requests/s over
    /// the static server's), in the order run.
    pub pair_ratios: Vec<f64>,
    /// Their median, its 95 % interval and range: the comparison's figure.
    pub pair_ratio: crate::bench::paired::Spread,
}

/// One slice of a read comparison.
#[derive(Debug, Clone, Serialize)]
pub struct ReadSlice {
    /// `evo` or `static` (in the history comparison: `evo-small`,
    /// `evo-large` or `static`).
    pub server: &'static str,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_cpu_us_per_request: f64,
    /// The bench's own CPU per request (the client shares the cores).
    pub client_cpu_us_per_request: f64,
    pub load_average: String,
    /// The server's CPU by kind and thread, its page faults, and the
    /// machine's other work over the slice (`procstat`).
    pub server_use: crate::bench::procstat::ProcessUse,
}

/// Pacing p99 above which the half-rate figure is flagged as the
/// generator's (its tick is 0.1 ms; at rest its p99 is 0.14-0.18 ms).
pub const GENERATOR_LATE_MS: f64 = 0.5;

#[derive(Debug, Serialize)]
pub struct HalfRate {
    pub target_per_sec: f64,
    pub figures: Figures,
    /// How late the generator sent requests after they were due (part of
    /// the latency above): timer granularity and the client's scheduling.
    pub send_late_p50_ms: f64,
    pub send_late_p99_ms: f64,
    pub send_late_max_ms: f64,
    /// The generator's own part of that lateness: how late it noticed a
    /// request was due (its tick and its scheduling), before any wait for
    /// a connection the server still held.
    pub pacing_late_p50_ms: f64,
    pub pacing_late_p99_ms: f64,
    pub pacing_late_max_ms: f64,
    /// Latency from when each request was handed to its connection (not
    /// from when it was due): the server, the loopback network and the
    /// client reading the response, without the generator's lateness.
    pub from_send_p50_ms: f64,
    pub from_send_p99_ms: f64,
    /// Which CPUs the server and the generator ran on.
    pub pinning: String,
    /// Whether the generator's own pacing was late enough to spoil the
    /// figure (pacing p99 over [`GENERATOR_LATE_MS`]): the p99 from the
    /// due time is then not the server's alone.
    pub generator_late: bool,
    /// The generator thread's time runnable but waiting for a CPU, and its
    /// involuntary context switches (`/proc/<tid>/schedstat`, `status`):
    /// another task held its core.
    pub generator_wait_ms: f64,
    pub generator_involuntary_switches: u64,
    /// Time the VM's CPUs were stolen by the hypervisor during the run
    /// (`/proc/stat` steal, every CPU): the generator cannot prevent it.
    pub steal_ms: f64,
    pub server_cpu_us_per_request: f64,
    pub client_cpu_us_per_request: f64,
    /// `/proc/loadavg` when the run ended.
    pub load_average: String,
    /// Where the slowest 1 % fell in time (windows of [`SLOW_WINDOW`] by
    /// due time): a few full windows mean periodic work or a stall, many
    /// windows with one or two each mean contention on every request.
    pub slow_windows: Option<crate::bench::open_loop::SlowWindows>,
}

/// The width of the half-rate run's windows for `slow_windows`.
pub const SLOW_WINDOW: std::time::Duration = std::time::Duration::from_millis(10);
/// How many of the worst windows the report keeps.
pub const SLOW_WINDOWS_KEPT: usize = 10;

/// The paired history comparison (`bench::history_pair`): evo-voice on a
/// copy of the store with H = the ingest calls and on the grown store,
/// both at once, and the static server, in rounds of one slice each.
#[derive(Debug, Serialize)]
pub struct HistoryPair {
    pub rounds: usize,
    pub history_small: usize,
    pub history_large: usize,
    /// Per-round ratios, their medians, `ratio_change` (the target figure)
    /// and `paired_change`.
    #[serde(flatten)]
    pub summary: crate::bench::paired::HistorySummary,
    /// Server CPU per request, H large over H small, minus 1.
    pub cpu_change: f64,
    /// Each evo-voice server against the static one, summed over the
    /// rounds (the slices of both).
    pub small: ReadRun,
    pub large: ReadRun,
    /// Each round's order of slices.
    pub order: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Reads {
    /// The read target's figure: the first comparison's ratio of summed
    /// requests (`small.ratio`).
    pub ratio: f64,
    /// How far one run's figure can be trusted: the median of the same
    /// comparison's ABBA pair ratios, its 95 % interval and range
    /// (`small.pair_ratio`).
    pub ratio_pairs: crate::bench::paired::Spread,
    pub history_small: usize,
    pub history_large: usize,
    /// The first read comparison (evo-voice and the static server), before
    /// the growth; its peak sets the half rate.
    pub small: ReadRun,
    /// The grown store's server against the static one, from the paired
    /// history comparison (`history.large`).
    pub large: ReadRun,
    /// How much more history changed the read ratio (target: within
    /// ±0.10): `history.ratio_change`, the medians of the paired rounds.
    /// (Before session 6, `large.ratio / small.ratio - 1` of two runs
    /// minutes apart, the server restarted between them.)
    pub ratio_change: f64,
    /// The paired history comparison.
    pub history: HistoryPair,
    pub half_rate: HalfRate,
    /// The same rate with the server and the generator on separate CPUs
    /// (none on a one-CPU machine).
    pub half_rate_pinned: Option<HalfRate>,
}

#[derive(Debug, Serialize)]
pub struct Ingest {
    /// The interleaved rounds' callbacks, pooled (`bench::ingest_rounds`).
    pub callbacks: Figures,
    /// The median over the rounds of the event rows per second the store
    /// commits in batches of `ingest_calls`; none if nothing was committed.
    pub store_batch_limit_per_sec: Option<f64>,
    pub store_batch_rows: u64,
    /// The target figure: the median of the rounds' ratios (callbacks/s
    /// over the same round's rows/s).
    pub ratio: Option<f64>,
    /// That median with its 95 % interval and the rounds' range.
    pub ratio_spread: crate::bench::paired::Spread,
    pub rounds: Vec<IngestRound>,
    /// The first ingest phase (before the reads, on the server under
    /// test), with no limit measured beside it; its calls are the first
    /// ended sessions and the templates of the limit's rows.
    pub first_phase: Figures,
}

/// One round of the interleaved ingest comparison.
#[derive(Debug, Serialize)]
pub struct IngestRound {
    pub callbacks_per_sec: f64,
    pub limit_rows_per_sec: f64,
    pub ratio: f64,
    /// Which side ran first.
    pub order: &'static str,
    pub load_average: String,
}

#[derive(Debug, Serialize)]
pub struct FanOut {
    pub subscribers: usize,
    /// Voice webhook sent → the message naming the new session read on the
    /// user's stream.
    pub message: Figures,
    /// The message's p99 with its 95 % interval (order statistics of the
    /// samples), in ms.
    pub message_p99: crate::bench::paired::Spread,
    pub webhook_ack: Figures,
    /// Each step of the path inside the server, for the fan-out samples'
    /// sessions (`--fanout-steps`; empty without it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// The whole phase, from the first subscriber's connect to the last
    /// sample, in seconds.
    pub phase_secs: f64,
    /// The subscribers' heartbeats (`POST /event-heartbeat`) over the phase.
    pub heartbeats: Figures,
    /// What the server's `cmd.onConnect` asked for (`None`: no subscriber).
    pub heartbeat_interval_ms: Option<u64>,
    pub idle_timeout_ms: Option<u64>,
}

/// One step of the fan-out path as the server timed it (`app::timing`).
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub step: String,
    pub samples: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct Memory {
    pub rss_empty: u64,
    pub rss_active: u64,
    pub rss_before_subscribers: u64,
    pub rss_subscribers: u64,
    pub bytes_per_active_session: f64,
    pub bytes_per_subscriber: f64,
    /// `rss_active - rss_empty` split as the kernel counts it (anonymous:
    /// the heap; file: mapped files such as the binary and SQLite's shared
    /// memory index; shmem), so a change of the figure can be attributed.
    pub active_delta: RssSplit,
}

/// Resident bytes by kind (`RssAnon`, `RssFile`, `RssShmem` of
/// `/proc/<pid>/status`).
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct RssSplit {
    pub anon: i64,
    pub file: i64,
    pub shmem: i64,
}

#[derive(Debug, Serialize)]
pub struct History {
    pub sessions_appended: u64,
    /// Written with every commit the webhooks made (the store limit sample).
    pub full_sessions: u64,
    /// Loaded in bulk (`Store::load_ended_sessions`): the same rows.
    pub bulk_sessions: u64,
    pub bulk_sessions_per_sec: f64,
    /// Seconds spent in `Store::load_ended_sessions`.
    pub bulk_load_secs: f64,
    /// Seconds the loader waited for batches to be built.
    pub build_wait_secs: f64,
    pub secs: f64,
    /// The store's files after the growth (database, WAL).
    pub store_bytes: u64,
    /// From starting `serve` on the grown store until it answered ready.
    pub server_start_secs: f64,
}

/// Errors by phase; any error fails the run.
#[derive(Debug, Default, Serialize)]
pub struct Errors {
    pub total: u64,
    pub by_phase: Vec<(String, u64)>,
    /// The first error of each phase that had one.
    pub first: Vec<String>,
}

impl Errors {
    pub fn add(&mut self, phase: &str, count: u64, first: Option<String>) {
        self.total += count;
        self.by_phase.push((phase.to_string(), count));
        if let Some(first) = first.filter(|_| count > 0) {
            self.first.push(format!("{phase}: {first}"));
        }
    }

    pub fn outcome(&mut self, phase: &str, outcome: &Outcome) {
        self.add(phase, outcome.errors, outcome.first_error.clone());
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub machine: Machine,
    pub plan: Plan,
    pub method: Vec<String>,
    pub setup: Setup,
    pub reads: Reads,
    pub ingest: Ingest,
    pub fanout: FanOut,
    pub memory: Memory,
    pub history: History,
    pub errors: Errors,
}

/// How each figure is made (printed with the report).
pub fn method(notes: &[String]) -> Vec<String> {
    let mut method: Vec<String> = notes.to_vec();
    method.extend(
        [
            "server: `evo-voice serve` as a child process on a fresh embedded store; the bench is only its client (raw hyper HTTP/1.1 connections, keep-alive)",
            "active calls: signed webhooks over HTTP (POST /twilio/voice, then the agent leg's /twilio/status ringing and in-progress)",
            "ingest: the calls are opened by their voice webhooks first; then their signed status callbacks (agent leg ringing, in-progress, completed; root completed) are timed; each acknowledged 2xx is durable",
            "ingest against the store's batch limit, interleaved (since session 8): after the fan-out, the store (at rest) is copied twice; a fresh server on one copy and the bench's own Store::commit on the other take 6 alternating rounds (ABBA); in each, the server gets as many new calls as the ingest phase (voice webhooks, untimed) and then their 4 signed status callbacks each, timed, and the store the rows those webhooks produce (each snapshot, event and lookup key, rebuilt by the same reducer from the ingest calls' stored sessions under new call SIDs) for as many other calls, one Store::commit a step of all the calls, the event steps timed; each round's ratio is callbacks/s over rows/s; the figure is the median of the 6, with a 95 % order-statistic interval",
            "history: the rest of H is loaded with Store::load_ended_sessions, 5,000 sessions a transaction: for each, the rows the webhooks' commits left (its final snapshot and history row, every event of its log, the lookup keys of its call SIDs; rebuilt from the ingest calls' stored sessions under new SIDs by the same reducer), written in multi-row statements (the conformance suite checks they equal the rows of the same sessions through Store::commit); not through HTTP (1,000,000 calls of 5 webhooks each would take hours on 2 cores); a copy of the store is kept before the growth (H = the ingest calls)",
            "reads: GET /sessions/active, bearer tokens rotating over all users, closed loop; the limit is a child process serving the bytes and headers user 0 got (the same listener, `startup::serve_with_limits`, and an axum router; no auth, no lookup, no middleware); each server has its own kept-alive connections (the same count) and a warm-up of a fifth of the run, then they are measured in 12 alternating slices each, of a sixth of the duration (ABBA order), within one run; the ratio is the sum of evo's requests over the static server's; each adjacent pair of slices also gives a ratio, reported with their median and its 95 % order-statistic interval (how far the run can be trusted); server CPU per request from /proc/<pid>/stat, with each slice's split by kind (user, system) and thread, minor faults, and the machine's other work and steal (`server_use`)",
            "history independence, paired: two servers started at once, one on the grown store (H) and one on the copy kept before the growth, and the static server with the grown store's bytes; the same warm-up each (interleaved, two turns each), then 6 rounds of one slice each in rotating order (every order of the three once), each slice after an unmeasured lead-in of a tenth of its length; the figure is the median of the rounds' H-large ratio over the median of the H-small ratio, minus 1 (also the median of each round's large/small, and the server CPU per request of each)",
            "half rate: an open-loop generator at half the peak evo-voice rate, in one thread with no async runtime, at real-time priority (SCHED_FIFO 1, where allowed) so that other processes do not make it late: an epoll set of non-blocking connections (opened before the start; pre-rendered request bytes, one write each, response heads parsed with httparse) polled once a tick (100 µs, timer slack 1 ns) or when the next request is due if none is in flight: each due request goes to an idle connection, or waits in a queue while all are busy, and each response is timed when read (up to a tick after it arrived: an upper bound); request k is due at start + k/rate and its latency counts from then (coordinated omission corrected); how late it was sent is reported too, and the latency from when it was sent; the generator thread's wait for a CPU (schedstat), its involuntary switches and the VM's steal time are reported, and a pacing p99 over 0.5 ms flags the run (GENERATOR LATE: not the server's figure); then the same rate again with the server's threads on one half of the CPUs and the generator's on the other",
            "fan-out: one /event-stream subscriber per user; each sample is a voice webhook opening a call to one subscriber's user, timed from sending it until that stream carries the new session's id; the call is then ended; the p99 comes with a 95 % order-statistic interval (from 300 samples the p99 has no upper bound: 0.99^300 = 0.049); the subscribers send heartbeats as ServiceStack's JS ServerEventsClient does (a POST with no body to cmd.onConnect's heartbeatUrl every heartbeatIntervalMs, the first one interval after the connect; here over a few kept-alive connections, 200 requests/s for 2,000 subscribers at the server's 10 s), so the phase may outlast the server's idle timeout (3 intervals); a refused heartbeat is an error",
            "memory: VmRSS of the server process before and after the active calls (with its split into RssAnon, RssFile and RssShmem), and before and after the subscribers connected",
        ]
        .map(str::to_string),
    );
    method
}

/// The ingest row's note: the store's batch limit and the ratio to it, or
/// why there is none.
fn ingest_note(ingest: &Ingest, ingest_calls: usize) -> String {
    match (ingest.store_batch_limit_per_sec, ingest.ratio) {
        (Some(limit), Some(ratio)) => {
            format!("store batch limit {limit:.0} rows/s, ratio {ratio:.2}")
        }
        _ => format!(
            "store batch limit not measured: no event rows of the {ingest_calls} calls a round were committed"
        ),
    }
}

impl Report {
    pub fn print_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let m = &self.machine;
        writeln!(out)?;
        writeln!(
            out,
            "evo-voice bench: {} cores ({}), {:.1} GiB, Linux {}",
            m.cores,
            m.cpu,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel
        )?;
        writeln!(
            out,
            "load average at start {}, at end {}",
            m.load_at_start, m.load_at_end
        )?;
        let p = &self.plan;
        writeln!(
            out,
            "U={} users, K={} active calls each, H={} ended sessions (first read run: {}), {} connections, {:.1} s runs, {} subscribers",
            p.users,
            p.sessions_per_user,
            p.history,
            p.ingest_calls,
            p.connections,
            p.duration_secs,
            p.subscribers
        )?;
        writeln!(out)?;
        let row = |out: &mut dyn Write, name: &str, f: &Figures, extra: String| {
            writeln!(
                out,
                "{name:<34} {:>10.0}/s  p50 {:>7.3} ms  p99 {:>7.3} ms  errors {:>3}  {extra}",
                f.per_sec, f.p50_ms, f.p99_ms, f.errors
            )
        };
        let r = &self.reads;
        let h = &r.history;
        writeln!(
            out,
            "{:<34} {:.2} (the target's figure: the first comparison's summed requests; its {} ABBA pairs' ratios: median {})",
            "reads vs. the static server",
            r.ratio,
            r.small.pair_ratios.len(),
            r.ratio_pairs.show(2)
        )?;
        for (label, run, history) in [
            ("reads", &r.small, r.history_small),
            ("paired: reads", &h.small, h.history_small),
            ("paired: reads", &h.large, h.history_large),
        ] {
            row(
                out,
                &format!("{label} evo-voice (H={history})"),
                &run.evo,
                format!(
                    "{} bytes, {} sessions",
                    run.response_bytes, run.sessions_per_response
                ),
            )?;
            row(
                out,
                &format!("{label} static bytes (H={history})"),
                &run.limit,
                format!(
                    "ratio {} (median of pairs; of sums {:.2}); server CPU/request {:.1} vs {:.1} µs (ratio {:.2})",
                    run.pair_ratio.show(2),
                    run.ratio,
                    run.evo_server_cpu_us_per_request,
                    run.limit_server_cpu_us_per_request,
                    run.cpu_ratio
                ),
            )?;
            if label == "reads" {
                let slices: Vec<String> = run
                    .slices
                    .iter()
                    .map(|s| format!("{} {:.0}", s.server, s.per_sec))
                    .collect();
                writeln!(out, "{:<34} {}", "  slices (req/s)", slices.join(", "))?;
            }
        }
        let rounds: Vec<String> = h
            .summary
            .small_ratios
            .iter()
            .zip(&h.summary.large_ratios)
            .map(|(small, large)| format!("{small:.2}/{large:.2}"))
            .collect();
        writeln!(
            out,
            "{:<34} {}",
            "  paired rounds (ratio small/large)",
            rounds.join(", ")
        )?;
        for (label, half) in std::iter::once(("reads at half of the peak rate", &r.half_rate))
            .chain(r.half_rate_pinned.iter().map(|h| ("  the same, pinned", h)))
        {
            row(
                out,
                label,
                &half.figures,
                format!(
                    "{}target {:.0}/s; sent late p50 {:.3} / p99 {:.3} / max {:.3} ms (pacing p99 {:.3} / max {:.3} ms; generator waited for a CPU {:.1} ms, {} involuntary switches; steal {:.1} ms); from send p50 {:.3} / p99 {:.3} ms; client CPU/request {:.1} µs; load {}; {}",
                    if half.generator_late {
                        "GENERATOR LATE (pacing p99 over 0.5 ms: not the server's figure); "
                    } else {
                        ""
                    },
                    half.target_per_sec,
                    half.send_late_p50_ms,
                    half.send_late_p99_ms,
                    half.send_late_max_ms,
                    half.pacing_late_p99_ms,
                    half.pacing_late_max_ms,
                    half.generator_wait_ms,
                    half.generator_involuntary_switches,
                    half.steal_ms,
                    half.from_send_p50_ms,
                    half.from_send_p99_ms,
                    half.client_cpu_us_per_request,
                    half.load_average,
                    half.pinning
                ),
            )?;
            if let Some(w) = &half.slow_windows {
                writeln!(
                    out,
                    "{:<34} {}",
                    "  where the slowest 1 % fell",
                    w.summary()
                )?;
            }
        }
        writeln!(
            out,
            "{:<34} median ratio {:.2} (H={}) vs {:.2} (H={}): {:+.1} % (paired, {} rounds; median of large/small {:+.1} %; server CPU/request {:+.1} %)",
            "history independence",
            h.summary.small_ratio_median,
            h.history_small,
            h.summary.large_ratio_median,
            h.history_large,
            r.ratio_change * 100.0,
            h.rounds,
            h.summary.paired_change * 100.0,
            h.cpu_change * 100.0
        )?;
        let i = &self.ingest;
        row(
            out,
            "ingest (signed status callbacks)",
            &i.callbacks,
            ingest_note(i, self.plan.ingest_calls),
        )?;
        let rounds: Vec<String> = i
            .rounds
            .iter()
            .map(|r| {
                format!(
                    "{:.0}/{:.0} = {:.2}",
                    r.callbacks_per_sec, r.limit_rows_per_sec, r.ratio
                )
            })
            .collect();
        writeln!(
            out,
            "{:<34} median {}; rounds (callbacks/s / rows/s): {}",
            "  ingest ratio, interleaved",
            i.ratio_spread.show(2),
            rounds.join(", ")
        )?;
        row(
            out,
            "  first ingest phase (no limit)",
            &i.first_phase,
            String::new(),
        )?;
        let f = &self.fanout;
        row(
            out,
            "fan-out webhook → message",
            &f.message,
            format!(
                "{} subscribers; p99 {} ms",
                f.subscribers,
                f.message_p99.show(2)
            ),
        )?;
        row(
            out,
            "  subscribers' heartbeats",
            &f.heartbeats,
            format!(
                "every {} ms (idle timeout {} ms); the phase took {:.1} s",
                f.heartbeat_interval_ms.unwrap_or(0),
                f.idle_timeout_ms.unwrap_or(0),
                f.phase_secs
            ),
        )?;
        for step in &f.steps {
            writeln!(
                out,
                "{:<34} {:>8} samples  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:.3} ms",
                format!("  step: {}", step.step),
                step.samples,
                step.p50_ms,
                step.p99_ms,
                step.max_ms
            )?;
        }
        let mem = &self.memory;
        writeln!(
            out,
            "{:<34} {:.0} bytes per active session, {:.0} bytes per subscriber (RSS {:.1} → {:.1} → {:.1} MiB)",
            "memory",
            mem.bytes_per_active_session,
            mem.bytes_per_subscriber,
            mem.rss_empty as f64 / 1048576.0,
            mem.rss_active as f64 / 1048576.0,
            mem.rss_subscribers as f64 / 1048576.0
        )?;
        let s = &self.setup;
        row(
            out,
            "setup: active calls' webhooks",
            &s.active,
            String::new(),
        )?;
        let h = &self.history;
        writeln!(
            out,
            "{:<34} {} sessions in {:.1} s ({} with every commit, {} loaded in bulk at {:.0}/s; {:.1} s waiting for batches; store {:.2} GB; serve ready on it in {:.1} s)",
            "setup: history appended",
            h.sessions_appended,
            h.secs,
            h.full_sessions,
            h.bulk_sessions,
            h.bulk_sessions_per_sec,
            h.build_wait_secs,
            h.store_bytes as f64 / 1e9,
            h.server_start_secs
        )?;
        writeln!(out)?;
        writeln!(out, "Method:")?;
        for line in &self.method {
            writeln!(out, "- {line}")?;
        }
        writeln!(out)?;
        if self.errors.total == 0 {
            writeln!(out, "errors: 0")?;
        } else {
            writeln!(
                out,
                "ERRORS: {} — the figures are not valid",
                self.errors.total
            )?;
            for first in &self.errors.first {
                writeln!(out, "  {first}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ingest(limit: Option<f64>, ratio: Option<f64>) -> Ingest {
        Ingest {
            callbacks: Figures {
                ok: 4_000,
                errors: 0,
                secs: 5.0,
                per_sec: 800.0,
                p50_ms: 60.0,
                p99_ms: 200.0,
                max_ms: 250.0,
            },
            store_batch_limit_per_sec: limit,
            store_batch_rows: if limit.is_some() { 5_000 } else { 0 },
            ratio,
            ratio_spread: crate::bench::paired::Spread::quantile(&[], 0.5),
            rounds: Vec::new(),
            first_phase: Figures::of(&Outcome::new()),
        }
    }

    #[test]
    fn an_ingest_run_without_a_batch_limit_says_why_instead_of_a_ratio() {
        // A limit of zero rows (e.g. calls without events) once printed a
        // ratio over zero as 7.8e11.
        let note = ingest_note(&ingest(None, None), 1_000);
        assert_eq!(
            note,
            "store batch limit not measured: no event rows of the 1000 calls a round were committed"
        );
        let json = serde_json::to_value(ingest(None, None)).unwrap();
        assert!(json["ratio"].is_null() && json["store_batch_limit_per_sec"].is_null());
    }

    #[test]
    fn an_ingest_run_with_a_batch_limit_reports_the_ratio() {
        let note = ingest_note(&ingest(Some(651.0), Some(1.09)), 1_000);
        assert_eq!(note, "store batch limit 651 rows/s, ratio 1.09");
    }
}
