//! The open-loop generator of the half-rate run: request `k` is due at
//! `start + k / rate`, and its latency counts from then (coordinated
//! omission corrected, as wrk2 does), so the generator's own lateness is
//! part of the figure and must be far below the server's latency.
//!
//! Why it is built this way (docs/benchmarks.md, "Half-rate latency and
//! paired history comparison"): the first generator ran its 64 connections
//! as tasks of the bench's multi-threaded runtime, woken through a
//! semaphore that a pacing thread filled every 250 µs, each request going
//! through hyper's client. At half rate every request then cost several
//! thread wake-ups (pacer, a runtime worker, the connection's task, the
//! response), and on this VM a wake-up from idle costs about 10 µs of CPU:
//! about 40 µs of client CPU per request, more than the server's, on the
//! two cores they share.
//!
//! This one is one thread with no async runtime (at real-time priority
//! where allowed, so other processes do not make it late): an `epoll` set
//! of non-blocking connections opened before the start, which it polls
//! once a tick (`TICK`, 100 µs; the thread's timer slack is 1 ns instead of
//! 50 µs; tokio's timer would round up to the next millisecond), or sleeps
//! until the next request is due when none is in flight. At each wake it
//! reads every response that arrived (`httparse` reads the head) and writes
//! every due request (pre-rendered bytes, one `write`) to an idle
//! connection; a request due while every connection is busy waits in a
//! queue, and its wait counts. So the wake-ups are at most 10,000 a second
//! whatever the rate, and the generator's own lateness and the timing of
//! a response are each late by at most a tick (plus its scheduling), which
//! the report shows (`pacing_late_*`).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;
use http::HeaderValue;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bench::load::{micros, Outcome};

/// When each request of an open-loop run is due: request `k` (0-based) at
/// `k / rate` seconds after the start, for the requests due before the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    rate: f64,
    duration: Duration,
}

impl Schedule {
    pub fn new(rate: f64, duration: Duration) -> Schedule {
        Schedule {
            rate: rate.max(1e-3),
            duration,
        }
    }

    /// How many requests are due within the run.
    pub fn total(&self) -> u64 {
        // Due at 0, 1/rate, …: those strictly before the end.
        (self.duration.as_secs_f64() * self.rate).ceil() as u64
    }

    /// When request `k` is due, from the start.
    pub fn due(&self, k: u64) -> Duration {
        Duration::from_secs_f64(k as f64 / self.rate)
    }

    /// How many requests are due at `elapsed` after the start (those due
    /// at or before it), at most `total()`.
    pub fn due_by(&self, elapsed: Duration) -> u64 {
        let due = (elapsed.as_secs_f64() * self.rate).floor() as u64 + 1;
        // Float rounding must never release a request before its time.
        let due = if due > 0 && self.due(due - 1) > elapsed {
            due - 1
        } else {
            due
        };
        due.min(self.total())
    }
}

/// How long the generator waits for a response before counting every
/// request in flight as failed (a stalled server must not hang the bench).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The generator wakes at most once a tick (when a request is due, or to
/// read the responses that arrived while requests are in flight), and does
/// not wait on the sockets: a wake-up costs about 10-20 µs of CPU on this
/// VM, so waking for each due time and each response cost more CPU than
/// the server's work per request. The price: a request is sent up to a
/// tick late, and a response is timed up to a tick after it arrived, both
/// counted in the latency (an upper bound, never a flattering one).
pub const TICK: Duration = Duration::from_micros(100);

/// A wait shorter than this is not slept: the request is sent now (a
/// wake-up costs more than this).
const NO_SLEEP_BELOW: Duration = Duration::from_micros(2);

/// One open-loop run's result.
pub struct Run {
    pub outcome: Outcome,
    /// Where the generator's thread ran.
    pub threads: String,
    /// The generator thread's scheduling during the run.
    pub sched: ThreadSched,
    /// Each answered request's due time from the start and latency from
    /// the due time, both in µs (for [`slow_windows`]).
    pub samples: Vec<Sample>,
}

/// One answered request: when it was due (µs from the start) and its
/// latency from then (µs). 8 bytes, so a run's worth (~350,000) is cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub due_us: u32,
    pub latency_us: u32,
}

/// Where the slow requests of a run fell in time: whether the tail is a
/// few bursts (periodic work, a stall) or spread over the run
/// (contention on every request).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SlowWindows {
    /// A request is slow when its latency (from the due time) is over
    /// this: the run's p99 (so the slow ones are the run's slowest 1 %).
    pub threshold_ms: f64,
    pub window_ms: f64,
    pub slow: u64,
    /// Windows holding at least one slow request, of all the run's.
    pub windows_with_slow: u64,
    pub windows: u64,
    /// Share of the slow requests in the `worst.len()` windows with most.
    pub share_in_worst: f64,
    /// The windows with most slow requests, most first (ties: earlier).
    pub worst: Vec<Window>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Window {
    /// Start of the window, ms from the run's start (due times).
    pub start_ms: f64,
    pub slow: u64,
    pub requests: u64,
    pub max_latency_ms: f64,
}

impl SlowWindows {
    /// One line for the text report.
    pub fn summary(&self) -> String {
        let worst: Vec<String> = self
            .worst
            .iter()
            .map(|w| {
                format!(
                    "{:.0} ms: {} (max {:.2} ms)",
                    w.start_ms, w.slow, w.max_latency_ms
                )
            })
            .collect();
        format!(
            "{} requests over {:.3} ms in {} of {} windows of {:.0} ms; {:.0} % in the worst {}: {}",
            self.slow,
            self.threshold_ms,
            self.windows_with_slow,
            self.windows,
            self.window_ms,
            self.share_in_worst * 100.0,
            self.worst.len(),
            worst.join(", ")
        )
    }
}

/// Groups `samples` by due time into windows of `window`, counts in each
/// those over the samples' `quantile` latency, and keeps the
/// `keep` windows with most. `None` for no samples.
pub fn slow_windows(
    samples: &[Sample],
    quantile: f64,
    window: Duration,
    keep: usize,
) -> Option<SlowWindows> {
    if samples.is_empty() {
        return None;
    }
    let mut latencies: Vec<u32> = samples.iter().map(|s| s.latency_us).collect();
    latencies.sort_unstable();
    // The nearest-rank quantile, as hdrhistogram's `value_at_quantile`.
    let rank = ((quantile * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len());
    let threshold = latencies[rank - 1];
    let width = (window.as_micros() as u64).max(1);
    let last = samples.iter().map(|s| s.due_us).max().unwrap_or(0) as u64;
    let count = (last / width + 1) as usize;
    let mut windows: Vec<Window> = (0..count)
        .map(|i| Window {
            start_ms: (i as u64 * width) as f64 / 1000.0,
            slow: 0,
            requests: 0,
            max_latency_ms: 0.0,
        })
        .collect();
    let mut slow = 0;
    for sample in samples {
        let w = &mut windows[(sample.due_us as u64 / width) as usize];
        w.requests += 1;
        w.max_latency_ms = w.max_latency_ms.max(sample.latency_us as f64 / 1000.0);
        if sample.latency_us > threshold {
            w.slow += 1;
            slow += 1;
        }
    }
    let windows_with_slow = windows.iter().filter(|w| w.slow > 0).count() as u64;
    let total_windows = windows.len() as u64;
    // Stable: equal counts keep their time order.
    windows.sort_by_key(|w| std::cmp::Reverse(w.slow));
    windows.truncate(keep);
    windows.retain(|w| w.slow > 0);
    let in_worst: u64 = windows.iter().map(|w| w.slow).sum();
    Some(SlowWindows {
        threshold_ms: threshold as f64 / 1000.0,
        window_ms: width as f64 / 1000.0,
        slow,
        windows_with_slow,
        windows: total_windows,
        share_in_worst: in_worst as f64 / slow.max(1) as f64,
        worst: windows,
    })
}

/// How the scheduler treated the generator's thread: time runnable but
/// waiting for a CPU (`/proc/thread-self/schedstat`, 2nd value) and
/// involuntary context switches (`status`): nonzero means another task
/// held its core, the bench's or a neighbour's.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSched {
    pub wait_ms: f64,
    pub involuntary_switches: u64,
}

impl ThreadSched {
    /// This thread's totals so far (zero where `/proc` does not say).
    pub fn now() -> ThreadSched {
        let read = |file: &str| {
            std::fs::read_to_string(format!("/proc/thread-self/{file}")).unwrap_or_default()
        };
        let wait_ns = read("schedstat")
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse::<f64>().ok())
            .unwrap_or(0.0);
        let switches = read("status")
            .lines()
            .find_map(|line| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        ThreadSched {
            wait_ms: wait_ns / 1e6,
            involuntary_switches: switches,
        }
    }

    fn since(self, before: ThreadSched) -> ThreadSched {
        ThreadSched {
            wait_ms: self.wait_ms - before.wait_ms,
            involuntary_switches: self
                .involuntary_switches
                .saturating_sub(before.involuntary_switches),
        }
    }
}

/// How the generator's thread is placed.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Pin the generator's thread to these CPUs.
    pub cpus: Option<Vec<usize>>,
    /// Run the generator's thread at real-time priority (`SCHED_FIFO` 1,
    /// through util-linux's `chrt`; allowed for root or with
    /// `CAP_SYS_NICE`, else the report says it was not), so that it is not
    /// late because other processes hold both cores. It only takes a core
    /// while it sends or reads, the same work at any priority; the server
    /// keeps its ordinary priority, so its latency is what it is.
    pub realtime: bool,
}

/// `GET /sessions/active` at the schedule's rate over `connections`
/// kept-alive connections to `addr` (opened before the start), bearer
/// tokens rotating over all users. Blocking: it runs on the calling thread
/// and returns when every due request was answered (or failed).
pub fn run(
    addr: SocketAddr,
    connections: usize,
    tokens: &[HeaderValue],
    schedule: Schedule,
    options: &Options,
    progress: &AtomicU64,
) -> Run {
    let mut placed = Vec::new();
    if let Some(cpus) = &options.cpus {
        placed.push(pin_this_thread(cpus));
    }
    if options.realtime {
        placed.push(realtime_this_thread());
    }
    let threads = placed.join("; ");
    let requests: Vec<Vec<u8>> = tokens
        .iter()
        .map(|token| request_bytes(addr, "/sessions/active", token))
        .collect();
    let mut outcome = Outcome::new();
    let mut samples = Vec::with_capacity(schedule.total().min(1 << 24) as usize);
    let before = ThreadSched::now();
    if let Err(error) = generate(
        addr,
        connections.max(1),
        &requests,
        schedule,
        progress,
        &mut outcome,
        &mut samples,
    ) {
        outcome.error(format!("the open-loop generator failed: {error:#}"));
    }
    Run {
        outcome,
        threads,
        sched: ThreadSched::now().since(before),
        samples,
    }
}

/// A GET as the bytes sent on the wire (HTTP/1.1, keep-alive by default).
pub fn request_bytes(addr: SocketAddr, path: &str, authorization: &HeaderValue) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64 + authorization.len());
    bytes.extend_from_slice(b"GET ");
    bytes.extend_from_slice(path.as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    bytes.extend_from_slice(addr.to_string().as_bytes());
    bytes.extend_from_slice(b"\r\nauthorization: ");
    bytes.extend_from_slice(authorization.as_bytes());
    bytes.extend_from_slice(b"\r\n\r\n");
    bytes
}

/// Where a complete response ends in `buf`, and its status: `None` while
/// the head or the body is still incomplete. Only `content-length` bodies
/// (what both servers send for these responses).
pub fn response_end(buf: &[u8]) -> anyhow::Result<Option<(u16, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buf).context("a malformed response head")? {
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(head) => head,
    };
    let status = response.code.unwrap_or(0);
    let mut length = None;
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value).ok();
            length = Some(
                value
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .context("a malformed content-length")?,
            );
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            anyhow::bail!("a response without content-length (transfer-encoding)");
        }
    }
    let end = head + length.context("a response without content-length")?;
    Ok((buf.len() >= end).then_some((status, end)))
}

/// One connection: its socket, its response buffer, and the request in
/// flight (when it was due and when it was written).
struct Slot {
    stream: TcpStream,
    buf: Vec<u8>,
    filled: usize,
    busy: Option<(Instant, Instant)>,
    token: usize,
}

fn connect(addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let stream =
        TcpStream::connect(addr).with_context(|| format!("connecting to {addr} failed"))?;
    stream.set_nodelay(true)?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// Writes all of `bytes` to a non-blocking socket with nothing else in
/// flight (its send buffer is empty, so a short request goes at once).
fn write_now(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => written += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn generate(
    addr: SocketAddr,
    connections: usize,
    requests: &[Vec<u8>],
    schedule: Schedule,
    progress: &AtomicU64,
    outcome: &mut Outcome,
    samples: &mut Vec<Sample>,
) -> anyhow::Result<()> {
    use rustix::event::epoll;

    precise_sleeps();
    let poll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let open = |i: usize| -> anyhow::Result<TcpStream> {
        let stream = connect(addr)?;
        epoll::add(
            &poll,
            &stream,
            epoll::EventData::new_u64(i as u64),
            epoll::EventFlags::IN,
        )?;
        Ok(stream)
    };
    let mut slots = Vec::with_capacity(connections);
    for i in 0..connections {
        slots.push(Slot {
            stream: open(i)?,
            buf: vec![0; 16 * 1024],
            filled: 0,
            busy: None,
            token: i,
        });
    }
    let mut idle: Vec<usize> = (0..connections).rev().collect();
    let mut waiting: VecDeque<u64> = VecDeque::new();
    let mut events: Vec<epoll::Event> = Vec::with_capacity(connections);
    let (total, mut next, mut in_flight) = (schedule.total(), 0u64, 0usize);
    let started = Instant::now();
    let (mut woke, mut last_progress) = (started, started);
    loop {
        // Every request due by now is queued, then sent on an idle
        // connection (first due, first sent). How late the generator
        // noticed each is its pacing; what it waits after that is for a
        // connection the server still holds.
        let noticed = Instant::now();
        let due_now = schedule.due_by(noticed - started + NO_SLEEP_BELOW);
        for k in next..due_now {
            let due = started + schedule.due(k);
            let _ = outcome
                .pacing
                .record(micros(noticed.saturating_duration_since(due)));
            waiting.push_back(k);
        }
        next = next.max(due_now);
        while !waiting.is_empty() {
            let Some(i) = idle.pop() else { break };
            let Some(k) = waiting.pop_front() else { break };
            let slot = &mut slots[i];
            let due = started + schedule.due(k);
            let sent = Instant::now();
            let _ = outcome
                .lateness
                .record(micros(sent.saturating_duration_since(due)));
            let request = &requests[slot.token % requests.len()];
            slot.token += connections;
            match write_now(&mut slot.stream, request) {
                Ok(()) => {
                    slot.busy = Some((due, sent));
                    in_flight += 1;
                }
                Err(error) => {
                    outcome.error(format!("GET /sessions/active: {error}"));
                    slot.stream = open(i)?;
                    slot.filled = 0;
                    idle.push(i);
                }
            }
        }
        if next >= total && waiting.is_empty() && in_flight == 0 {
            break;
        }
        if in_flight > 0 && last_progress.elapsed() > RESPONSE_TIMEOUT {
            anyhow::bail!(
                "{in_flight} requests had no response within {RESPONSE_TIMEOUT:?} ({} answered)",
                outcome.ok
            );
        }
        // Sleep a tick, or until the next request is due when none is in
        // flight; then take every response that arrived meanwhile.
        let tick_end = woke + TICK;
        let wake_at = if in_flight == 0 && waiting.is_empty() {
            tick_end.max(started + schedule.due(next))
        } else {
            tick_end
        };
        let now = Instant::now();
        if wake_at > now {
            std::thread::sleep(wake_at - now);
        }
        woke = Instant::now();
        events.clear();
        let no_wait = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match epoll::wait(
            &poll,
            rustix::buffer::spare_capacity(&mut events),
            Some(&no_wait),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(error) => return Err(error.into()),
        }
        if !events.is_empty() {
            last_progress = woke;
        }
        for event in &events {
            let i = event.data.u64() as usize;
            let Some(slot) = slots.get_mut(i) else {
                continue;
            };
            // Read what arrived; a complete response frees the connection.
            loop {
                if slot.filled == slot.buf.len() {
                    slot.buf.resize(slot.buf.len() * 2, 0);
                }
                match slot.stream.read(&mut slot.buf[slot.filled..]) {
                    Ok(0) => {
                        outcome
                            .error("GET /sessions/active: the server closed the connection".into());
                        if slot.busy.take().is_some() {
                            in_flight -= 1;
                        }
                        slot.stream = open(i)?;
                        slot.filled = 0;
                        idle.push(i);
                        break;
                    }
                    Ok(n) => slot.filled += n,
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(error) => {
                        outcome.error(format!("GET /sessions/active: {error}"));
                        if slot.busy.take().is_some() {
                            in_flight -= 1;
                        }
                        slot.stream = open(i)?;
                        slot.filled = 0;
                        idle.push(i);
                        break;
                    }
                }
                let complete = match response_end(&slot.buf[..slot.filled]) {
                    Ok(None) => continue,
                    Ok(Some((status, end))) if end == slot.filled => Ok(status),
                    Ok(Some(_)) => Err(anyhow::anyhow!("bytes after the response")),
                    Err(error) => Err(error),
                };
                let now = Instant::now();
                let Some((due, sent)) = slot.busy.take() else {
                    outcome.error("GET /sessions/active: a response to no request".into());
                    slot.filled = 0;
                    break;
                };
                in_flight -= 1;
                slot.filled = 0;
                match complete {
                    Ok(200) => {
                        outcome.ok += 1;
                        let _ = outcome.latency.record(micros(now - due));
                        let _ = outcome.from_send.record(micros(now - sent));
                        let clamp = |d: Duration| d.as_micros().min(u32::MAX as u128) as u32;
                        samples.push(Sample {
                            due_us: clamp(due - started),
                            latency_us: clamp(now - due),
                        });
                        idle.push(i);
                    }
                    Ok(status) => {
                        outcome.error(format!("GET /sessions/active answered {status}"));
                        idle.push(i);
                    }
                    Err(error) => {
                        outcome.error(format!("GET /sessions/active: {error:#}"));
                        slot.stream = open(i)?;
                        idle.push(i);
                    }
                }
                if (outcome.ok + outcome.errors) % 1024 == 0 {
                    progress.store(outcome.ok + outcome.errors, Ordering::Relaxed);
                }
                break;
            }
        }
    }
    outcome.elapsed = started.elapsed();
    progress.store(outcome.ok + outcome.errors, Ordering::Relaxed);
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn generate(
    _addr: SocketAddr,
    _connections: usize,
    _requests: &[Vec<u8>],
    _schedule: Schedule,
    _progress: &AtomicU64,
    _outcome: &mut Outcome,
    _samples: &mut Vec<Sample>,
) -> anyhow::Result<()> {
    anyhow::bail!("the open-loop generator needs Linux (epoll_pwait2)")
}

/// Restricts the calling thread to `cpus`; what was done, for the report.
#[cfg(target_os = "linux")]
fn pin_this_thread(cpus: &[usize]) -> String {
    let mut set = rustix::thread::CpuSet::new();
    for &cpu in cpus {
        set.set(cpu);
    }
    match rustix::thread::sched_setaffinity(None, &set) {
        Ok(()) => format!("generator on CPUs {cpus:?}"),
        Err(error) => format!("generator: pinning failed ({error})"),
    }
}

/// Puts the calling thread in `SCHED_FIFO` at priority 1 (`chrt`: the
/// project forbids `unsafe`, and rustix has no `sched_setscheduler`).
#[cfg(target_os = "linux")]
fn realtime_this_thread() -> String {
    let tid = rustix::thread::gettid().as_raw_nonzero().get().to_string();
    let status = std::process::Command::new("chrt")
        .args(["-f", "-p", "1", &tid])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    match status {
        Ok(status) if status.success() => "generator at SCHED_FIFO 1".to_string(),
        Ok(status) => format!("generator at normal priority (chrt exited with {status})"),
        Err(error) => format!("generator at normal priority (chrt: {error})"),
    }
}

#[cfg(not(target_os = "linux"))]
fn realtime_this_thread() -> String {
    "generator at normal priority (Linux only)".to_string()
}

#[cfg(not(target_os = "linux"))]
fn pin_this_thread(_cpus: &[usize]) -> String {
    "generator not pinned (Linux only)".to_string()
}

/// Timed waits of the calling thread end when asked, not up to 50 µs later
/// (the kernel's default timer slack for an ordinary thread).
#[cfg(target_os = "linux")]
fn precise_sleeps() {
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_releases_each_request_at_its_due_time_and_none_after_the_end() {
        // 1,000/s for 10 ms: requests 0..10, due at 0, 1, …, 9 ms.
        let schedule = Schedule::new(1000.0, Duration::from_millis(10));
        assert_eq!(schedule.total(), 10);
        assert_eq!(schedule.due(0), Duration::ZERO);
        assert_eq!(schedule.due(3), Duration::from_millis(3));
        assert_eq!(schedule.due_by(Duration::ZERO), 1);
        assert_eq!(schedule.due_by(Duration::from_micros(999)), 1);
        assert_eq!(schedule.due_by(Duration::from_millis(1)), 2);
        assert_eq!(schedule.due_by(Duration::from_micros(9_500)), 10);
        assert_eq!(schedule.due_by(Duration::from_secs(5)), 10);
        // A rate that does not divide the run: 3/s for 1 s → due at 0,
        // 1/3 and 2/3 s.
        let thirds = Schedule::new(3.0, Duration::from_secs(1));
        assert_eq!(thirds.total(), 3);
        assert_eq!(thirds.due_by(Duration::from_millis(333)), 1);
        assert_eq!(thirds.due_by(Duration::from_millis(334)), 2);
    }

    #[test]
    fn due_by_never_counts_a_request_whose_time_has_not_come() {
        let schedule = Schedule::new(29_123.7, Duration::from_secs(2));
        for micros in (0..2_000_000u64).step_by(997) {
            let elapsed = Duration::from_micros(micros);
            let due = schedule.due_by(elapsed);
            assert!(due >= 1);
            assert!(schedule.due(due - 1) <= elapsed, "at {micros} µs");
            if due < schedule.total() {
                assert!(schedule.due(due) > elapsed, "at {micros} µs");
            }
        }
    }

    /// A loopback server answering every request with the same response.
    fn answering_server(response: &'static [u8]) -> SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut chunk) {
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            if stream.write_all(response).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    #[test]
    fn every_due_request_is_sent_and_answered_once() {
        let addr = answering_server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
        let tokens: Vec<HeaderValue> = (0..5)
            .map(|i| HeaderValue::from_str(&format!("Bearer {i}")).unwrap())
            .collect();
        // 40 requests over 3 connections.
        let schedule = Schedule::new(400.0, Duration::from_millis(100));
        let run = run(
            addr,
            3,
            &tokens,
            schedule,
            &Options::default(),
            &AtomicU64::new(0),
        );
        let outcome = run.outcome;
        assert_eq!(outcome.first_error, None);
        assert_eq!((outcome.ok, outcome.errors), (40, 0));
        assert_eq!(outcome.latency.len(), 40);
        assert_eq!(outcome.lateness.len(), 40);
        assert_eq!(outcome.pacing.len(), 40);
        assert_eq!(outcome.from_send.len(), 40);
    }

    #[test]
    fn an_answer_other_than_200_is_an_error() {
        let addr = answering_server(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
        let tokens = [HeaderValue::from_static("Bearer x")];
        let schedule = Schedule::new(100.0, Duration::from_millis(50));
        let outcome = run(
            addr,
            2,
            &tokens,
            schedule,
            &Options::default(),
            &AtomicU64::new(0),
        )
        .outcome;
        assert_eq!((outcome.ok, outcome.errors), (0, 5));
        assert_eq!(
            outcome.first_error.as_deref(),
            Some("GET /sessions/active answered 401")
        );
    }

    fn sample(due_ms: u32, latency_us: u32) -> Sample {
        Sample {
            due_us: due_ms * 1000,
            latency_us,
        }
    }

    #[test]
    fn slow_requests_in_one_burst_are_one_window() {
        // 1,000 requests, one a millisecond; ten of them (the slowest 1 %)
        // due in 20-29 ms, all in the window starting at 20 ms.
        let samples: Vec<Sample> = (0..1000)
            .map(|ms| sample(ms, if (20..30).contains(&ms) { 5_000 } else { 100 }))
            .collect();
        let w = slow_windows(&samples, 0.99, Duration::from_millis(10), 3).unwrap();
        assert_eq!(w.threshold_ms, 0.1);
        assert_eq!((w.slow, w.windows_with_slow, w.windows), (10, 1, 100));
        assert_eq!(w.share_in_worst, 1.0);
        assert_eq!(
            w.worst,
            vec![Window {
                start_ms: 20.0,
                slow: 10,
                requests: 10,
                max_latency_ms: 5.0
            }]
        );
    }

    #[test]
    fn slow_requests_spread_over_the_run_are_many_windows() {
        // Every 100th request is slow: one in each of ten windows, so the
        // worst three hold 3 of 10, the earliest first among equals.
        let samples: Vec<Sample> = (0..1000)
            .map(|ms| sample(ms, if ms % 100 == 50 { 2_000 } else { 100 }))
            .collect();
        let w = slow_windows(&samples, 0.99, Duration::from_millis(10), 3).unwrap();
        assert_eq!((w.slow, w.windows_with_slow), (10, 10));
        assert!((w.share_in_worst - 0.3).abs() < 1e-9);
        let starts: Vec<f64> = w.worst.iter().map(|w| w.start_ms).collect();
        assert_eq!(starts, vec![50.0, 150.0, 250.0]);
        assert!(w.worst.iter().all(|w| w.requests == 10 && w.slow == 1));
    }

    #[test]
    fn the_threshold_is_the_nearest_rank_quantile_and_only_those_over_it_are_slow() {
        // 200 requests: latencies 1..=200 µs; p99 is the 198th (198 µs),
        // so 199 and 200 are slow.
        let samples: Vec<Sample> = (0..200).map(|i| sample(i, i + 1)).collect();
        let w = slow_windows(&samples, 0.99, Duration::from_millis(100), 10).unwrap();
        assert_eq!(w.threshold_ms, 0.198);
        assert_eq!((w.slow, w.windows), (2, 2));
        assert_eq!(w.worst.len(), 1);
        assert_eq!((w.worst[0].start_ms, w.worst[0].requests), (100.0, 100));
        assert!(slow_windows(&[], 0.99, Duration::from_millis(10), 10).is_none());
    }

    #[test]
    fn a_request_is_the_bytes_a_client_would_send() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let token = HeaderValue::from_static("Bearer abc");
        assert_eq!(
            request_bytes(addr, "/sessions/active", &token),
            b"GET /sessions/active HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nauthorization: Bearer abc\r\n\r\n"
        );
    }

    #[test]
    fn a_response_ends_after_its_content_length() {
        let whole =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nContent-Length: 4\r\n\r\n{\"a\"";
        let head = whole.len() - 4;
        assert_eq!(response_end(&whole[..10]).unwrap(), None);
        assert_eq!(response_end(&whole[..head]).unwrap(), None);
        assert_eq!(response_end(&whole[..head + 3]).unwrap(), None);
        assert_eq!(response_end(whole).unwrap(), Some((200, whole.len())));
        let unauthorized = b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            response_end(unauthorized).unwrap(),
            Some((401, unauthorized.len()))
        );
        assert!(response_end(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").is_err());
        assert!(response_end(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
        assert!(response_end(b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").is_err());
    }
}
