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

/// The 1-based ranks `(l, u)` of `n` sorted samples whose values bound the
/// population's `q`-quantile with at least `confidence`, distribution-free:
/// the number of samples below the quantile is Binomial(n, q), so
/// P(x(l) > ξ) = P(B ≤ l − 1) and P(x(u) < ξ) = P(B ≥ u), each kept at or
/// under (1 − confidence) / 2. `None` when no sample is far enough out
/// (e.g. the p99's upper bound from 300 samples: 0.99^300 = 0.049).
pub fn quantile_ranks(n: usize, q: f64, confidence: f64) -> (Option<usize>, Option<usize>) {
    if n == 0 || !(0.0..1.0).contains(&q) || q == 0.0 {
        return (None, None);
    }
    let tail = (1.0 - confidence) / 2.0;
    // P(B = k) in log space: (1 − q)^n underflows for n in the thousands.
    let (ln_q, ln_p) = (q.ln(), (1.0 - q).ln());
    let mut ln_pmf = n as f64 * ln_p;
    let mut cdf = Vec::with_capacity(n + 1);
    let mut sum = 0.0;
    for k in 0..=n {
        sum += ln_pmf.exp();
        cdf.push(sum.min(1.0));
        if k < n {
            ln_pmf += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + ln_q - ln_p;
        }
    }
    // Largest l with P(B ≤ l − 1) ≤ tail.
    let low = (1..=n).rev().find(|&l| cdf[l - 1] <= tail);
    // Smallest u with P(B ≥ u) = 1 − P(B ≤ u − 1) ≤ tail.
    let high = (1..=n).find(|&u| 1.0 - cdf[u - 1] <= tail);
    (low, high)
}

/// An estimate with its spread: the value, a 95 % confidence interval
/// (order statistics, [`quantile_ranks`]; `None` where the samples cannot
/// bound it) and the range of the samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub value: f64,
    pub samples: usize,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The `q`-quantile of `values` (the median for 0.5, as [`median`]),
    /// with its interval.
    pub fn quantile(values: &[f64], q: f64) -> Spread {
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let value = if q == 0.5 {
            median(&sorted)
        } else if n == 0 {
            0.0
        } else {
            // The nearest rank, as HDR histograms report it.
            sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1]
        };
        let (low, high) = quantile_ranks(n, q, 0.95);
        Spread {
            value,
            samples: n,
            ci95_low: low.map(|l| sorted[l - 1]),
            ci95_high: high.map(|u| sorted[u - 1]),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
        }
    }

    /// `value [low, high]`, for the table.
    pub fn show(&self, digits: usize) -> String {
        let bound = |b: Option<f64>, none: &str| match b {
            Some(b) => format!("{b:.digits$}"),
            None => none.to_string(),
        };
        format!(
            "{:.digits$} (95 % CI {} – {}, n {})",
            self.value,
            bound(self.ci95_low, "< min"),
            bound(self.ci95_high, "> max"),
            self.samples
        )
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
    fn order_statistic_intervals_match_the_binomial() {
        // The median of 12: ranks 3 and 10 (coverage 96.1 %), as in
        // tables of the sign test.
        assert_eq!(quantile_ranks(12, 0.5, 0.95), (Some(3), Some(10)));
        // p99 of 300: 0.99^300 = 0.049 > 0.025, so no sample bounds it above.
        let (low, high) = quantile_ranks(300, 0.99, 0.95);
        assert_eq!(high, None);
        assert!(low.is_some_and(|l| l < 297), "{low:?}");
        // p99 of 2,000 (the 20th largest is the estimate): both bounds.
        let (low, high) = quantile_ranks(2_000, 0.99, 0.95);
        let (low, high) = (low.unwrap(), high.unwrap());
        assert!(low < 1_980 && high > 1_980 && high <= 2_000, "{low} {high}");
    }

    #[test]
    fn a_spread_gives_the_median_and_its_interval() {
        let values: Vec<f64> = (1..=12).map(f64::from).collect();
        let spread = Spread::quantile(&values, 0.5);
        assert_eq!(spread.value, 6.5);
        assert_eq!((spread.ci95_low, spread.ci95_high), (Some(3.0), Some(10.0)));
        assert_eq!((spread.min, spread.max, spread.samples), (1.0, 12.0, 12));
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
