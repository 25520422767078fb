//! The catalogue of known failure patterns. Each pattern scores a [`Shape`] (0..1) from the
//! series' measured shape, plus a small prior from the words in the metric and column names.

use super::Shape;

/// A known way for production systems to fail.
pub struct FailurePattern {
    pub id: &'static str,
    pub name: &'static str,
    /// Why the shape points here, in an SRE's words.
    pub explanation: &'static str,
    /// Name fragments that make this pattern more likely (`api_latency_p99` → latency).
    pub keywords: &'static [&'static str],
    /// Shape score in 0..1.
    score: fn(&Shape) -> f64,
}

/// How much matching names add to a shape score.
const KEYWORD_BONUS: f64 = 0.15;

impl FailurePattern {
    /// Score of this pattern for `shape`: shape evidence plus a name prior.
    pub fn score(&self, shape: &Shape) -> f64 {
        let shape_score = (self.score)(shape).clamp(0.0, 1.0);
        let named = self.keywords.iter().any(|k| shape.names.contains(k));
        (shape_score
            + if named && shape_score > 0.0 {
                KEYWORD_BONUS
            } else {
                0.0
            })
        .min(1.0)
    }
}

/// Every known pattern, in no particular order.
pub const CATALOGUE: &[FailurePattern] = &[
    FailurePattern {
        id: "memory_leak",
        name: "Memory leak",
        explanation: "usage climbs steadily and never returns to its old level, the signature of memory that is allocated and never freed",
        keywords: &["mem", "heap", "rss", "oom", "gc"],
        score: |s| if s.direction > 0.0 && s.gradual && s.still_rising && s.trend_tau > 0.5 { 0.55 + 0.3 * s.trend_tau + if s.sawtooth >= 1 { 0.1 } else { 0.0 } } else { 0.0 },
    },
    FailurePattern {
        id: "connection_pool_exhaustion",
        name: "Connection-pool exhaustion",
        explanation: "latency jumped and flattened against a ceiling while a connection count saturated: requests are queueing for a free connection",
        keywords: &["pool", "conn", "db", "database", "query", "sql"],
        score: |s| {
            if s.direction <= 0.0 || !s.sustained {
                return 0.0;
            }
            0.3 + if s.related_ceiling || s.ceiling_share > 0.1 { 0.35 } else { 0.0 } + if s.variance_ratio > 1.5 { 0.1 } else { 0.0 }
        },
    },
    FailurePattern {
        id: "cpu_throttling",
        name: "CPU throttling",
        explanation: "the metric is pinned flat at a hard ceiling in recurring stretches, as when a container exhausts its CPU quota each period",
        keywords: &["cpu", "throttl", "cfs", "quota"],
        score: |s| if s.direction > 0.0 && s.ceiling_share > 0.1 { 0.5 + if s.bursts_periodic { 0.25 } else { 0.1 } } else if s.bursts_periodic { 0.35 } else { 0.0 },
    },
    FailurePattern {
        id: "cache_invalidation_storm",
        name: "Cache-invalidation storm",
        explanation: "a sharp surge that decays gradually, as a flushed cache refills: every request misses and falls through to the backing store",
        keywords: &["cache", "hit", "miss", "evict", "invalidat"],
        score: |s| if s.spike_then_decay { 0.6 } else if s.direction > 0.0 && s.spikes >= 3 && !s.bursts_periodic { 0.3 } else { 0.0 },
    },
    FailurePattern {
        id: "disk_io_saturation",
        name: "Disk I/O saturation",
        explanation: "sustained, jagged elevation with much higher variance, typical of a device queue that is full and serving requests in bursts",
        keywords: &["disk", "io", "iops", "write", "read", "volume", "fs"],
        score: |s| if s.direction > 0.0 && s.variance_ratio > 2.0 { 0.45 + if s.sustained { 0.15 } else { 0.0 } } else { 0.0 },
    },
    FailurePattern {
        id: "network_packet_loss",
        name: "Network packet loss",
        explanation: "a metric that normally sits at zero shows irregular, intermittent spikes, as when a link or NIC drops packets",
        keywords: &["packet", "loss", "drop", "retrans", "network", "net"],
        score: |s| if s.zero_floor > 0.3 && s.spikes >= 2 && !s.bursts_periodic { 0.6 } else { 0.0 },
    },
    FailurePattern {
        id: "upstream_latency",
        name: "Upstream latency",
        explanation: "response time rose gradually with no deploy and no local saturation, which points at a slower dependency",
        keywords: &["latency", "upstream", "response", "p99", "p95", "duration"],
        score: |s| if s.direction > 0.0 && s.sustained && s.deploy.is_none() && !s.related_ceiling { if s.gradual { 0.5 } else { 0.3 } } else { 0.0 },
    },
    FailurePattern {
        id: "deploy_regression",
        name: "Deploy regression",
        explanation: "the metric stepped to a new level at the moment of a deploy and stayed there",
        keywords: &["deploy", "release", "version", "build"],
        score: |s| match (&s.deploy, s.sustained) {
            (Some(_), true) => 0.85,
            (Some(_), false) => 0.55,
            (None, _) => 0.0,
        },
    },
    FailurePattern {
        id: "service_outage",
        name: "Service outage",
        explanation: "the metric dropped to zero or stopped reporting, so the service or its exporter was down",
        keywords: &["up", "availability", "requests", "throughput", "rps", "count"],
        score: |s| if s.outage { 0.9 } else { 0.0 },
    },
    FailurePattern {
        id: "traffic_surge",
        name: "Traffic surge",
        explanation: "demand rose sharply and stayed high; load, not a fault, is the first suspect",
        keywords: &["request", "rps", "qps", "traffic", "count", "throughput"],
        score: |s| if s.direction > 0.0 && s.sustained && !s.gradual && s.deploy.is_none() { 0.35 } else { 0.0 },
    },
    FailurePattern {
        id: "calendar_effect",
        name: "Calendar effect (holiday or schedule change)",
        explanation: "one stretch of a strongly seasonal metric did not follow its usual cycle while the rest did, as on a holiday",
        keywords: &["traffic", "orders", "sessions", "users", "requests"],
        score: |s| if s.seasonality_break && !s.outage { 0.5 } else { 0.0 },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_cover_the_required_patterns() {
        let ids: std::collections::HashSet<_> = CATALOGUE.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), CATALOGUE.len());
        for required in [
            "memory_leak",
            "connection_pool_exhaustion",
            "cpu_throttling",
            "cache_invalidation_storm",
            "disk_io_saturation",
            "network_packet_loss",
            "upstream_latency",
            "deploy_regression",
        ] {
            assert!(ids.contains(required), "{required}");
        }
    }

    fn best(shape: &Shape) -> &'static str {
        CATALOGUE
            .iter()
            .max_by(|a, b| a.score(shape).total_cmp(&b.score(shape)))
            .unwrap()
            .id
    }

    #[test]
    fn a_lasting_step_at_a_deploy_reads_as_a_deploy_regression() {
        let deploy = crate::series::events::Event {
            timestamp: 0,
            kind: "deploy".into(),
            description: "v2".into(),
        };
        let shape = Shape {
            direction: 1.0,
            sustained: true,
            deploy: Some(deploy),
            names: "error_rate".into(),
            ..Shape::default()
        };
        assert_eq!(best(&shape), "deploy_regression");
    }

    #[test]
    fn a_steady_climb_reads_as_a_memory_leak() {
        let shape = Shape {
            direction: 1.0,
            gradual: true,
            still_rising: true,
            trend_tau: 0.9,
            sustained: true,
            names: "heap_used_bytes".into(),
            ..Shape::default()
        };
        let best = CATALOGUE
            .iter()
            .max_by(|a, b| a.score(&shape).total_cmp(&b.score(&shape)))
            .unwrap();
        assert_eq!(best.id, "memory_leak");
    }
}
