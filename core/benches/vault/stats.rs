//! Statistics and formatting: medians, nearest-rank percentiles, durations, ratios.

use super::*;

#[derive(Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) n: usize,
    pub(crate) median: Duration,
    pub(crate) p99: Duration,
    pub(crate) mean: Duration,
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

pub(crate) fn stats(samples: &[Duration]) -> Stats {
    assert!(!samples.is_empty(), "no samples");
    let mut s = samples.to_vec();
    s.sort();
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2 };
    // Nearest rank: the smallest sample with at least 99% of the samples at or below it.
    let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
    let total: Duration = s.iter().sum();
    Stats { n, median, p99: s[rank - 1], mean: total / n as u32, min: s[0], max: s[n - 1] }
}

pub(crate) fn fmt_d(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 10.0 {
        format!("{us:.2} µs")
    } else if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// `a - b`, which may be negative, formatted.
pub(crate) fn fmt_signed(a: Duration, b: Duration) -> String {
    if a >= b {
        fmt_d(a - b)
    } else {
        format!("−{}", fmt_d(b - a))
    }
}

pub(crate) fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

pub(crate) fn verdict(ok: bool) -> &'static str {
    if ok {
        "**met**"
    } else {
        "**not met**"
    }
}

pub(crate) fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}
