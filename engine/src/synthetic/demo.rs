//! The demo datasets: the seven incidents of the product brief (multi-column where a second
//! signal tells the story) plus normal series. Written by `anomaly-hunter demo` and kept in
//! `examples/`.

use std::fmt::Write as _;

use super::rng::Rng;
use super::scenarios::EPOCH_MONDAY;
use crate::series::timestamp::to_rfc3339;
use crate::stats::seasonality::{DAY_MS, MINUTE_MS};

/// One demo file: its name, the failure pattern it shows (None = normal) and its CSV text.
pub struct DemoFile {
    pub file_name: &'static str,
    pub pattern: Option<&'static str>,
    pub csv: String,
}

/// Every demo file, generated from fixed seeds.
pub fn demo_files() -> Vec<DemoFile> {
    vec![
        packet_loss(),
        db_query_latency(),
        api_response_time(),
        memory_leak(),
        cpu_throttling(),
        disk_io_spike(),
        cache_invalidation_storm(),
        normal_web_requests(),
        normal_cpu(),
    ]
}

/// Builds a CSV with one row per minute from `columns(i, rng)`.
fn minutely(
    header: &str,
    points: usize,
    seed: u64,
    mut columns: impl FnMut(usize, &mut Rng) -> Vec<f64>,
) -> String {
    let mut rng = Rng::new(seed);
    let mut csv = format!("timestamp,{header}\n");
    for i in 0..points {
        let row: Vec<String> = columns(i, &mut rng)
            .iter()
            .map(|v| format!("{v:.3}"))
            .collect();
        let _ = writeln!(
            csv,
            "{},{}",
            to_rfc3339(EPOCH_MONDAY + i as i64 * MINUTE_MS),
            row.join(",")
        );
    }
    csv
}

fn daily_wave(i: usize, amplitude: f64) -> f64 {
    1.0 + amplitude * (std::f64::consts::TAU * (i as i64 * MINUTE_MS) as f64 / DAY_MS as f64).sin()
}

fn packet_loss() -> DemoFile {
    let csv = minutely("packet_loss_pct,retransmits_per_s", 1440, 11, |i, rng| {
        let burst = (900..1100).contains(&i) && rng.uniform() < 0.18;
        let loss = if burst { rng.range(2.0, 12.0) } else { 0.0 };
        vec![loss, 40.0 + rng.normal() * 3.0 + loss * 25.0]
    });
    DemoFile {
        file_name: "network_packet_loss.csv",
        pattern: Some("network_packet_loss"),
        csv,
    }
}

fn db_query_latency() -> DemoFile {
    let csv = minutely(
        "db_query_latency_ms,db_connections_active",
        720,
        12,
        |i, rng| {
            let connections = if i >= 495 {
                100.0
            } else {
                (55.0 + rng.normal() * 5.0 + (i.saturating_sub(470)) as f64 * 2.0).min(100.0)
            };
            let latency = if i >= 500 {
                95.0 + rng.normal() * 18.0
            } else {
                22.0 + rng.normal() * 2.0
            };
            vec![latency.max(1.0), connections.round()]
        },
    );
    DemoFile {
        file_name: "db_query_latency.csv",
        pattern: Some("connection_pool_exhaustion"),
        csv,
    }
}

fn api_response_time() -> DemoFile {
    let csv = minutely(
        "api_latency_p99_ms,upstream_payments_latency_ms",
        1440,
        13,
        |i, rng| {
            let ramp = ((i as f64 - 700.0) / 180.0).clamp(0.0, 1.0);
            let upstream_ramp = ((i as f64 - 680.0) / 180.0).clamp(0.0, 1.0);
            vec![
                (180.0 * (1.0 + 0.6 * ramp) + rng.normal() * 6.0).max(1.0),
                (90.0 * (1.0 + 1.2 * upstream_ramp) + rng.normal() * 3.0).max(1.0),
            ]
        },
    );
    DemoFile {
        file_name: "api_response_time_degradation.csv",
        pattern: Some("upstream_latency"),
        csv,
    }
}

fn memory_leak() -> DemoFile {
    let csv = minutely("heap_used_mb", 1440, 14, |i, rng| {
        let leak = (i as f64 - 600.0).max(0.0) * 0.9;
        vec![1200.0 + leak + rng.normal() * 15.0]
    });
    DemoFile {
        file_name: "memory_leak.csv",
        pattern: Some("memory_leak"),
        csv,
    }
}

fn cpu_throttling() -> DemoFile {
    let csv = minutely("cpu_usage_pct,cpu_throttled_periods", 1440, 15, |i, rng| {
        let throttled = i >= 720 && i % 60 < 14;
        let cpu = if throttled {
            100.0
        } else {
            45.0 * daily_wave(i, 0.1) + rng.normal() * 4.0
        };
        vec![
            cpu.min(100.0),
            if throttled {
                80.0 + rng.normal() * 5.0
            } else {
                rng.uniform().round()
            },
        ]
    });
    DemoFile {
        file_name: "cpu_throttling.csv",
        pattern: Some("cpu_throttling"),
        csv,
    }
}

fn disk_io_spike() -> DemoFile {
    let csv = minutely("disk_io_wait_ms,disk_write_iops", 1440, 16, |i, rng| {
        let saturated = i >= 1000;
        let wait = if saturated {
            40.0 + rng.uniform().powi(2) * 160.0
        } else {
            8.0 + rng.normal() * 1.0
        };
        let iops = if saturated {
            4800.0 + rng.normal() * 300.0
        } else {
            1500.0 + rng.normal() * 120.0
        };
        vec![wait.max(0.5), iops]
    });
    DemoFile {
        file_name: "disk_io_spike.csv",
        pattern: Some("disk_io_saturation"),
        csv,
    }
}

fn cache_invalidation_storm() -> DemoFile {
    let csv = minutely("cache_miss_rate_pct,db_reads_per_s", 1440, 17, |i, rng| {
        let since = i as f64 - 1000.0;
        let storm = if since >= 0.0 {
            70.0 * (-since / 12.0).exp()
        } else {
            0.0
        };
        let miss = 4.0 + rng.normal() * 0.4 + storm;
        vec![miss.max(0.0), 300.0 + miss * 40.0 + rng.normal() * 20.0]
    });
    DemoFile {
        file_name: "cache_invalidation_storm.csv",
        pattern: Some("cache_invalidation_storm"),
        csv,
    }
}

fn normal_web_requests() -> DemoFile {
    let csv = minutely("http_requests_per_s", 2880, 18, |i, rng| {
        vec![800.0 * daily_wave(i, 0.35) * (1.0 + 0.03 * rng.normal())]
    });
    DemoFile {
        file_name: "normal_web_requests.csv",
        pattern: None,
        csv,
    }
}

fn normal_cpu() -> DemoFile {
    let csv = minutely("cpu_usage_pct", 1440, 19, |_, rng| {
        vec![(35.0 + rng.normal() * 3.0).clamp(0.0, 100.0)]
    });
    DemoFile {
        file_name: "normal_cpu.csv",
        pattern: None,
        csv,
    }
}
