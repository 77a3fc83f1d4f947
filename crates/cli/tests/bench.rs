//! `evo-voice bench` end to end with tiny sizes: every phase runs against a
//! real `serve` child, the JSON report has every figure, and no phase had
//! an error. Timings are not asserted (they depend on the machine).

use std::process::Command;

use serde_json::Value;

fn bench(args: &[&str]) -> std::process::Output {
    bench_with_env(args, &[])
}

/// `evo-voice bench` with `args`, on a store of its own, with `env` set.
fn bench_with_env(args: &[&str], env: &[(&str, &std::path::Path)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_evo-voice"));
    command
        .arg("bench")
        .args(args)
        .env_remove("EVO_DATABASE_URL")
        .env_remove("EVO_DATA_DIR");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// The tiniest run of every phase (a few seconds).
const TINY: [&str; 16] = [
    "--quick",
    "--users",
    "4",
    "--sessions-per-user",
    "2",
    "--history",
    "60",
    "--ingest-calls",
    "20",
    "--connections",
    "4",
    "--duration-secs",
    "0.3",
    "--fanout-samples",
    "5",
    "--json",
];

fn number(report: &Value, pointer: &str) -> f64 {
    report
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("the report has no number at {pointer}: {report:#}"))
}

#[test]
fn quick_bench_reports_every_phase_without_errors() {
    let output = bench(&TINY);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}): {stderr}"));

    assert_eq!(number(&report, "/errors/total"), 0.0);
    assert_eq!(number(&report, "/plan/users"), 4.0);
    // Every user sees exactly their own active calls.
    for run in ["small", "large"] {
        assert_eq!(
            number(&report, &format!("/reads/{run}/sessions_per_response")),
            2.0
        );
        for side in ["evo", "limit"] {
            for field in ["per_sec", "p50_ms", "p99_ms"] {
                assert!(number(&report, &format!("/reads/{run}/{side}/{field}")) > 0.0);
            }
            assert!(number(&report, &format!("/reads/{run}/{side}/ok")) > 0.0);
        }
        assert!(number(&report, &format!("/reads/{run}/ratio")) > 0.0);
        assert!(number(&report, &format!("/reads/{run}/response_bytes")) > 0.0);
        // Interleaved: 12 slices of each server, in ABBA order, each with
        // requests, the server's CPU time per request and where it went.
        let slices = report
            .pointer(&format!("/reads/{run}/slices"))
            .and_then(Value::as_array)
            .expect("the read run lists its slices");
        let order: Vec<&str> = slices
            .iter()
            .map(|slice| slice["server"].as_str().unwrap())
            .collect();
        if run == "small" {
            let abba = ["evo", "static", "static", "evo"];
            assert_eq!(
                order,
                abba.iter().cycle().take(24).copied().collect::<Vec<_>>()
            );
        } else {
            // The paired history comparison's rounds (evo-small, evo-large
            // and static in rotating order), less the other evo server's.
            let (l, s) = ("evo-large", "static");
            assert_eq!(order, [l, s, l, s, s, l, s, l, s, l, l, s]);
        }
        for slice in slices {
            // A 50 ms slice may see no answer on a loaded machine: only
            // the totals above must be positive.
            assert!(slice["per_sec"].as_f64().is_some(), "{slice}");
            assert!(
                slice["server_cpu_us_per_request"].as_f64().is_some(),
                "{slice}"
            );
            let used = &slice["server_use"];
            for field in [
                "user_us_per_request",
                "system_us_per_request",
                "minor_faults_per_request",
                "others_cpu_ms",
                "steal_ms",
            ] {
                assert!(used[field].as_f64().is_some(), "{field}: {slice}");
            }
            assert!(used["threads"].is_array(), "{slice}");
        }
        assert!(number(&report, &format!("/reads/{run}/cpu_ratio")) >= 0.0);
        // One ratio per pair of adjacent slices, and their median.
        let pairs = report
            .pointer(&format!("/reads/{run}/pair_ratios"))
            .and_then(Value::as_array)
            .expect("each pair's ratio");
        assert_eq!(pairs.len(), slices.len() / 2);
        assert!(number(&report, &format!("/reads/{run}/pair_ratio/value")) > 0.0);
        assert_eq!(
            number(&report, &format!("/reads/{run}/pair_ratio/samples")),
            pairs.len() as f64
        );
    }
    // The read target's figure is the first comparison's summed ratio, with
    // its pairs' spread beside it.
    assert_eq!(
        number(&report, "/reads/ratio"),
        number(&report, "/reads/small/ratio")
    );
    assert_eq!(
        number(&report, "/reads/ratio_pairs/value"),
        number(&report, "/reads/small/pair_ratio/value")
    );
    // The paired history comparison: both evo-voice servers and the
    // static one, one slice each in every round, every order once.
    assert_eq!(number(&report, "/reads/history/rounds"), 6.0);
    let order: Vec<&str> = report
        .pointer("/reads/history/order")
        .and_then(Value::as_array)
        .expect("the rounds' order")
        .iter()
        .map(|round| round.as_str().unwrap())
        .collect();
    let mut distinct = order.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 6, "{order:?}");
    for side in ["small", "large"] {
        assert_eq!(
            number(
                &report,
                &format!("/reads/history/{side}/sessions_per_response")
            ),
            2.0
        );
        assert!(number(&report, &format!("/reads/history/{side}/evo/ok")) > 0.0);
        let ratios = report
            .pointer(&format!("/reads/history/{side}_ratios"))
            .and_then(Value::as_array)
            .expect("each round's ratio");
        assert_eq!(ratios.len(), 6);
        number(&report, &format!("/reads/history/{side}_ratio_median"));
    }
    assert_eq!(
        number(&report, "/reads/ratio_change"),
        number(&report, "/reads/history/ratio_change")
    );
    number(&report, "/reads/history/paired_change");
    number(&report, "/reads/history/cpu_change");
    assert_eq!(number(&report, "/reads/history_small"), 20.0);
    assert_eq!(number(&report, "/reads/history_large"), 60.0);
    number(&report, "/reads/ratio_change");
    assert!(number(&report, "/reads/half_rate/target_per_sec") > 0.0);
    assert!(number(&report, "/reads/half_rate/figures/ok") > 0.0);
    number(&report, "/reads/half_rate/figures/p99_ms");
    number(&report, "/reads/half_rate/send_late_p99_ms");
    number(&report, "/reads/half_rate/send_late_max_ms");
    // Latency from the actual send, beside the latency from due time.
    assert!(number(&report, "/reads/half_rate/from_send_p50_ms") > 0.0);
    number(&report, "/reads/half_rate/from_send_p99_ms");
    number(&report, "/reads/half_rate/pacing_late_p99_ms");
    number(&report, "/reads/half_rate/generator_wait_ms");
    number(&report, "/reads/half_rate/generator_involuntary_switches");
    number(&report, "/reads/half_rate/steal_ms");
    assert!(report
        .pointer("/reads/half_rate/generator_late")
        .is_some_and(Value::is_boolean));
    // With two CPUs or more, the same rate again with server and bench
    // pinned apart, saying what was pinned.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus >= 2 {
        assert!(number(&report, "/reads/half_rate_pinned/figures/ok") > 0.0);
        number(&report, "/reads/half_rate_pinned/from_send_p99_ms");
        let pinning = report
            .pointer("/reads/half_rate_pinned/pinning")
            .and_then(|v| v.as_str())
            .expect("pinning is described");
        assert!(!pinning.is_empty());
    } else {
        assert!(report
            .pointer("/reads/half_rate_pinned")
            .is_some_and(Value::is_null));
    }
    // Ingest: four status callbacks per call, every one acknowledged: the
    // first phase's 20 calls, then 6 interleaved rounds of 20 calls beside
    // the store's batch commits of 20 other calls' rows.
    assert_eq!(number(&report, "/ingest/first_phase/ok"), 80.0);
    assert_eq!(number(&report, "/ingest/callbacks/ok"), 6.0 * 80.0);
    assert!(number(&report, "/ingest/store_batch_limit_per_sec") > 0.0);
    assert!(number(&report, "/ingest/store_batch_rows") >= 6.0 * 80.0);
    assert!(number(&report, "/ingest/ratio") > 0.0);
    let rounds = report
        .pointer("/ingest/rounds")
        .and_then(Value::as_array)
        .expect("the ingest rounds");
    assert_eq!(rounds.len(), 6);
    for round in rounds {
        assert!(round["callbacks_per_sec"].as_f64().is_some_and(|r| r > 0.0));
        assert!(round["limit_rows_per_sec"]
            .as_f64()
            .is_some_and(|r| r > 0.0));
    }
    assert_eq!(
        number(&report, "/ingest/ratio"),
        number(&report, "/ingest/ratio_spread/value")
    );
    // Fan-out: one subscriber per user, every sample's message seen.
    assert_eq!(number(&report, "/fanout/subscribers"), 4.0);
    assert_eq!(number(&report, "/fanout/message/ok"), 5.0);
    assert!(number(&report, "/fanout/message/p99_ms") > 0.0);
    assert_eq!(number(&report, "/fanout/message_p99/samples"), 5.0);
    assert!(number(&report, "/fanout/message_p99/value") > 0.0);
    // The subscribers read the server's heartbeat interval from their
    // `cmd.onConnect` (ServiceStack's 10 s, idle timeout 30 s) and every
    // heartbeat they sent was answered.
    assert_eq!(number(&report, "/fanout/heartbeat_interval_ms"), 10_000.0);
    assert_eq!(number(&report, "/fanout/idle_timeout_ms"), 30_000.0);
    assert_eq!(number(&report, "/fanout/heartbeats/errors"), 0.0);
    assert!(number(&report, "/fanout/phase_secs") > 0.0);
    // Memory read from the server process.
    assert!(number(&report, "/memory/rss_empty") > 0.0);
    assert!(number(&report, "/memory/rss_active") > 0.0);
    number(&report, "/memory/bytes_per_active_session");
    number(&report, "/memory/bytes_per_subscriber");
    // The history grew to H: the ingest calls' count through commits (the
    // store's limit sample), the rest loaded in bulk.
    assert_eq!(number(&report, "/history/sessions_appended"), 40.0);
    assert_eq!(number(&report, "/history/full_sessions"), 20.0);
    assert_eq!(number(&report, "/history/bulk_sessions"), 20.0);
    assert!(number(&report, "/history/bulk_sessions_per_sec") > 0.0);
    assert!(number(&report, "/history/store_bytes") > 0.0);
    assert_eq!(number(&report, "/setup/active/ok"), 4.0 * 2.0 * 3.0);
    // The table went to stderr with the same verdict.
    assert!(stderr.contains("errors: 0"), "{stderr}");
}

#[test]
fn a_history_smaller_than_the_ingest_calls_is_refused() {
    let output = bench(&["--quick", "--history", "10", "--ingest-calls", "20"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--history"), "{stderr}");
}

/// `EVO_BENCH_FANOUT_TRACE` keeps each fan-out sample and the server's
/// step log, WAL checkpoints included, for `scripts/fanout-tail.py`.
#[test]
fn the_fan_out_trace_keeps_each_sample_and_the_steps() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    let args: Vec<&str> = TINY.iter().copied().chain(["--fanout-steps"]).collect();
    let output = bench_with_env(&args, &[("EVO_BENCH_FANOUT_TRACE", &trace)]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed: {stderr}");
    let samples = std::fs::read_to_string(trace.join("samples.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = samples.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 5, "{samples}");
    for (n, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 5, "{samples}");
        assert_eq!(row[0], n.to_string());
        assert!(row[1].starts_with("CA"), "{samples}");
        for number in &row[2..] {
            assert!(number.parse::<u64>().unwrap() > 0, "{samples}");
        }
    }
    let log = std::fs::read_to_string(trace.join("server.log")).unwrap();
    for step in ["signature", "commit_sync", "log", "written", "checkpoint"] {
        assert!(
            log.contains(&format!("step=\"{step}\"")),
            "no {step} step in the server's log"
        );
    }
    // The samples' calls are the ones the log times.
    assert!(log.contains(rows[0][1]), "{}", rows[0][1]);
}
