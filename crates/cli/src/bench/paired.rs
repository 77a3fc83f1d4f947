//! Paired comparisons: servers measured in alternating slices within one
//! run, so that a neighbour's load weighs on each alike, summarised by
//! per-round ratios and their medians (a round that a neighbour's burst
//! spoiled moves a median less than a sum).

use serde::Serialize;

/// The median (the mean of the two middle values for an even count; 0 for
/// none).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The order in which `servers` servers take their slices in round
/// `round`: rotations, then the same rotations reversed. For 3 servers 6
/// rounds run every order once (each server twice in each position); for
/// 2 it is ABBA.
pub fn round_order(round: usize, servers: usize) -> Vec<usize> {
    let n = servers.max(1);
    let rotation = round % n;
    let mut order: Vec<usize> = (0..n).map(|i| (i + rotation) % n).collect();
    if (round / n) % 2 == 1 {
        order.reverse();
    }
    order
}

/// One round of the history comparison: requests/s of each server.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Round {
    /// evo-voice on the store with H = the ingest calls.
    pub small: f64,
    /// evo-voice on the store grown to H.
    pub large: f64,
    /// The static-bytes server (the limit).
    pub limit: f64,
}

/// What the rounds say about the history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistorySummary {
    /// Each round's `small / limit`.
    pub small_ratios: Vec<f64>,
    /// Each round's `large / limit`.
    pub large_ratios: Vec<f64>,
    pub small_ratio_median: f64,
    pub large_ratio_median: f64,
    /// `large_ratio_median / small_ratio_median - 1`: the target figure
    /// (within ±0.10).
    pub ratio_change: f64,
    /// The median over rounds of `large / small - 1`: the same question
    /// without the static server.
    pub paired_change: f64,
}

pub fn summarize(rounds: &[Round]) -> HistorySummary {
    let ratio = |a: f64, b: f64| a / b.max(1e-9);
    let small_ratios: Vec<f64> = rounds.iter().map(|r| ratio(r.small, r.limit)).collect();
    let large_ratios: Vec<f64> = rounds.iter().map(|r| ratio(r.large, r.limit)).collect();
    let changes: Vec<f64> = rounds
        .iter()
        .map(|r| ratio(r.large, r.small) - 1.0)
        .collect();
    let (small_ratio_median, large_ratio_median) = (median(&small_ratios), median(&large_ratios));
    HistorySummary {
        ratio_change: ratio(large_ratio_median, small_ratio_median) - 1.0,
        paired_change: median(&changes),
        small_ratios,
        large_ratios,
        small_ratio_median,
        large_ratio_median,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[5.0, 1.0, 3.0]), 3.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn six_rounds_of_three_servers_run_every_order_once() {
        let orders: Vec<Vec<usize>> = (0..6).map(|r| round_order(r, 3)).collect();
        let mut distinct = orders.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 6, "{orders:?}");
        for server in 0..3 {
            for position in 0..3 {
                let times = orders.iter().filter(|o| o[position] == server).count();
                assert_eq!(times, 2, "server {server} at {position}: {orders:?}");
            }
        }
    }

    #[test]
    fn two_servers_alternate_abba() {
        let orders: Vec<Vec<usize>> = (0..4).map(|r| round_order(r, 2)).collect();
        assert_eq!(orders, vec![vec![0, 1], vec![1, 0], vec![1, 0], vec![0, 1]]);
    }

    #[test]
    fn the_history_summary_uses_per_round_ratios_and_their_medians() {
        let rounds = [
            Round {
                small: 50.0,
                large: 45.0,
                limit: 100.0,
            },
            Round {
                small: 60.0,
                large: 60.0,
                limit: 100.0,
            },
            // A round a neighbour's burst spoiled for the limit only.
            Round {
                small: 30.0,
                large: 33.0,
                limit: 40.0,
            },
        ];
        let summary = summarize(&rounds);
        assert_eq!(summary.small_ratios, vec![0.5, 0.6, 0.75]);
        assert_eq!(summary.large_ratios, vec![0.45, 0.6, 0.825]);
        assert_eq!(summary.small_ratio_median, 0.6);
        assert_eq!(summary.large_ratio_median, 0.6);
        assert_eq!(summary.ratio_change, 0.0);
        // large / small - 1: -0.1, 0, +0.1.
        assert!((summary.paired_change - 0.0).abs() < 1e-12);
    }
}
