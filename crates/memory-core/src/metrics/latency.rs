//! Latency histograms: one per operation, percentiles on demand.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// Percentiles of one latency histogram, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of recorded durations.
    pub count: u64,
    /// Mean duration.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 95th percentile.
    pub p95_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Longest recorded duration.
    pub max_us: u64,
    /// Sum of all durations (for Prometheus `_sum`).
    pub total_us: u64,
}

/// A thread-safe latency histogram with microsecond resolution and three significant digits.
#[derive(Debug)]
pub struct LatencyHistogram {
    inner: Mutex<Recorded>,
}

#[derive(Debug)]
struct Recorded {
    histogram: Option<Histogram<u64>>,
    total_us: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            inner: Mutex::new(Recorded {
                // Auto-resizing; creation only fails for more than five significant digits.
                histogram: Histogram::new(3).ok(),
                total_us: 0,
            }),
        }
    }
}

impl LatencyHistogram {
    /// Records one duration.
    pub fn record(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let mut recorded = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        recorded.total_us = recorded.total_us.saturating_add(micros);
        if let Some(h) = recorded.histogram.as_mut() {
            // `record` grows the histogram to the value; `saturating_record` would clamp it
            // to the range the histogram started with (2 µs) and report every longer
            // duration as that. Only a value the histogram cannot grow to is clamped.
            if h.record(micros).is_err() {
                h.saturating_record(micros);
            }
        }
    }

    /// The percentiles recorded so far.
    pub fn summary(&self) -> LatencySummary {
        let recorded = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(h) = recorded.histogram.as_ref().filter(|h| !h.is_empty()) else {
            return LatencySummary::default();
        };
        LatencySummary {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p95_us: h.value_at_quantile(0.95),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            total_us: recorded.total_us,
        }
    }
}

/// Latency of one named operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationStats {
    /// Operation name (`complete_episode`, `retrieve_context`, …).
    pub operation: String,
    /// Its latency percentiles.
    #[serde(flatten)]
    pub latency: LatencySummary,
}

/// Latency histograms of the memory's public operations, by name.
#[derive(Debug, Default)]
pub struct LatencyRegistry {
    operations: Mutex<BTreeMap<&'static str, std::sync::Arc<LatencyHistogram>>>,
}

impl LatencyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `operation` took `elapsed`, here and in the `metrics` facade.
    pub fn record(&self, operation: &'static str, elapsed: Duration) {
        let histogram = {
            let mut ops = self.operations.lock().unwrap_or_else(|e| e.into_inner());
            std::sync::Arc::clone(ops.entry(operation).or_default())
        };
        histogram.record(elapsed);
        metrics::histogram!("memory_operation_duration_seconds", "operation" => operation)
            .record(elapsed.as_secs_f64());
    }

    /// The latency of every operation recorded so far, by name.
    pub fn snapshot(&self) -> Vec<OperationStats> {
        let ops: Vec<_> = {
            let ops = self.operations.lock().unwrap_or_else(|e| e.into_inner());
            ops.iter()
                .map(|(name, h)| (*name, std::sync::Arc::clone(h)))
                .collect()
        };
        ops.into_iter()
            .map(|(name, h)| OperationStats {
                operation: name.to_string(),
                latency: h.summary(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_the_recorded_durations() {
        let h = LatencyHistogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((499..=501).contains(&s.p50_us), "p50 {}", s.p50_us);
        assert!((949..=951).contains(&s.p95_us), "p95 {}", s.p95_us);
        assert!((989..=991).contains(&s.p99_us), "p99 {}", s.p99_us);
        assert_eq!(s.total_us, 500_500);
        assert!((s.mean_us - 500.5).abs() < 1.0);
    }

    /// Durations far above the histogram's starting range keep their value: a 50 ms
    /// operation is reported as 50 ms, and every figure agrees with total / count.
    #[test]
    fn long_durations_are_reported_as_they_were() {
        let h = LatencyHistogram::default();
        h.record(Duration::from_millis(50));
        let s = h.summary();
        for (what, us) in [("p50", s.p50_us), ("p99", s.p99_us), ("max", s.max_us)] {
            assert!((49_950..=50_050).contains(&us), "{what} {us} µs");
        }
        assert!((s.mean_us - 50_000.0).abs() < 50.0, "mean {}", s.mean_us);
        assert_eq!(s.total_us, 50_000);

        let mixed = LatencyHistogram::default();
        for ms in [1u64, 2, 5, 18, 120, 3_000] {
            mixed.record(Duration::from_millis(ms));
        }
        let s = mixed.summary();
        let mean = s.total_us as f64 / s.count as f64;
        assert!(
            (s.mean_us - mean).abs() / mean < 0.001,
            "{} vs {mean}",
            s.mean_us
        );
        assert!(
            (2_997_000..=3_003_000).contains(&s.max_us),
            "max {}",
            s.max_us
        );
        assert!((4_995..=5_005).contains(&s.p50_us), "p50 {}", s.p50_us);
    }

    #[test]
    fn an_empty_histogram_reports_zeros() {
        assert_eq!(
            LatencyHistogram::default().summary(),
            LatencySummary::default()
        );
    }

    #[test]
    fn the_registry_keeps_one_histogram_per_operation() {
        let r = LatencyRegistry::new();
        r.record("get_episode", Duration::from_micros(10));
        r.record("get_episode", Duration::from_micros(30));
        r.record("log_step", Duration::from_micros(100));
        let snap = r.snapshot();
        let names: Vec<_> = snap.iter().map(|o| o.operation.as_str()).collect();
        assert_eq!(names, ["get_episode", "log_step"]);
        assert_eq!(snap[0].latency.count, 2);
        assert_eq!(snap[1].latency.p50_us, 100);
    }
}
