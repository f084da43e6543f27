//! Latency statistics and the table rows the benchmarks print.
#![allow(dead_code)] // each benchmark uses part of this module

use std::time::Duration;

pub struct Stats {
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub mean: Duration,
}

pub fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        mean: total / samples.len() as u32,
    }
}

pub fn row(name: &str, s: &Stats, throughput: Option<f64>) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name:<58} | {:>8.1} | {:>8.1} | {:>8.1} | {:>8.1} | {:>9} |",
        us(s.p50),
        us(s.p90),
        us(s.p99),
        us(s.mean),
        throughput.map_or("-".to_string(), |t| format!("{t:.0}"))
    );
}
