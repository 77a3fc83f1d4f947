//! How fast a change made on one node reaches another node's Server Events
//! subscribers, under load (issue 13's figure; docs/benchmarks.md,
//! "Cross-node propagation"). Two `evo-voice serve` processes (the bench
//! profile's build) on one throwaway PostgreSQL 15 cluster, one user's
//! `/event-stream` open on each; `ROUNDS` runs of 8 concurrent writers × 30
//! calls, each rung on one node and hung up on the other (480 commits a
//! run), after one warm-up run. For each commit: webhook sent → the *other*
//! node's stream shows it, and the committing node's stream → the other
//! node's (the hop through PostgreSQL alone).
//!
//! `cargo bench -p evo-voice --bench cross_node` (needs PostgreSQL's
//! server binaries, as the tests do). A figure, never a pass/fail: it
//! fails only if a commit is refused or lost.

#[path = "../tests/common/mod.rs"]
mod common;

use common::two_nodes::{bearer, load, percentile, seed, Node, Watched};
use common::wait_until_ready;
use evo_store::testing::PostgresCluster;
use std::sync::Arc;
use std::time::Duration;

const ROUNDS: u8 = 5;
const WRITERS: u32 = 8;
const CALLS: u32 = 30;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cluster = PostgresCluster::start();
    let url = cluster.create_database("evo_cross_node_bench");
    let account = seed(&url);
    let nodes = [Node::start(&url), Node::start(&url)];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    for node in &nodes {
        wait_until_ready(&http, node.port).await;
    }
    let token = bearer(&http, &nodes[0]).await;
    let mut watched = Watched::open(&nodes, &token).await;
    let nodes = Arc::new(nodes);
    // Warm-up: connections, statement caches, the first notifications.
    load(&http, &nodes, &account, &mut watched, 0, WRITERS, CALLS).await;
    let (mut latencies, mut hops) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let run = load(&http, &nodes, &account, &mut watched, round, WRITERS, CALLS).await;
        println!(
            "round {round}: {} commits; sent → other node's stream p50 {:.1} ms, p99 {:.1} ms; node → node p50 {:.1} ms, p99 {:.1} ms",
            run.latencies.len(),
            ms(percentile(&run.latencies, 0.5)),
            ms(percentile(&run.latencies, 0.99)),
            ms(percentile(&run.hops, 0.5)),
            ms(percentile(&run.hops, 0.99)),
        );
        latencies.extend(run.latencies);
        hops.extend(run.hops);
    }
    latencies.sort();
    hops.sort();
    println!(
        "all {} commits ({ROUNDS} rounds of {WRITERS} writers × {CALLS} calls): sent → other node's stream p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; node → node p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("commits were measured")),
        ms(percentile(&hops, 0.5)),
        ms(percentile(&hops, 0.99)),
        ms(*hops.last().expect("commits were measured")),
    );
}
