//! Latency samples per tool, and the tables and JSON lines printed from them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::json;

#[derive(Default, Clone)]
pub struct Samples {
    pub ok: Vec<Duration>,
    pub errors: u64,
    /// First few distinct error messages, to say what went wrong.
    pub error_examples: Vec<String>,
}

impl Samples {
    pub fn merge(&mut self, other: Samples) {
        self.ok.extend(other.ok);
        self.errors += other.errors;
        for e in other.error_examples {
            if self.error_examples.len() < 3 && !self.error_examples.contains(&e) {
                self.error_examples.push(e);
            }
        }
    }

    pub fn error(&mut self, message: String) {
        self.errors += 1;
        if self.error_examples.len() < 3 && !self.error_examples.contains(&message) {
            self.error_examples.push(message);
        }
    }
}

pub type ByTool = BTreeMap<String, Samples>;

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn header() {
    println!("| scenario | clients | tool | calls | calls/s | p50 ms | p90 ms | p99 ms | errors |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
}

/// Prints one row per tool (and a total) and appends JSON lines.
pub fn print(
    scenario: &str,
    clients: usize,
    elapsed: Duration,
    by_tool: &ByTool,
    json_out: Option<&Path>,
) -> anyhow::Result<()> {
    let mut all = Samples::default();
    let mut rows = Vec::new();
    for (tool, samples) in by_tool {
        all.merge(samples.clone());
        rows.push((tool.clone(), samples.clone()));
    }
    if by_tool.len() > 1 {
        rows.push(("(all)".into(), all));
    }
    for (tool, samples) in rows {
        let mut sorted = samples.ok.clone();
        sorted.sort();
        let calls = sorted.len() as u64 + samples.errors;
        let rate = sorted.len() as f64 / elapsed.as_secs_f64();
        let (p50, p90, p99) = (
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.9),
            percentile(&sorted, 0.99),
        );
        println!(
            "| {scenario} | {clients} | {tool} | {calls} | {rate:.0} | {:.2} | {:.2} | {:.2} | {} |",
            ms(p50),
            ms(p90),
            ms(p99),
            samples.errors
        );
        for example in &samples.error_examples {
            println!(
                "|   | | error example | {} | | | | | |",
                example.replace('|', "/")
            );
        }
        if let Some(path) = json_out {
            let line = json!({
                "scenario": scenario, "clients": clients, "tool": tool, "calls": calls,
                "ok": sorted.len(), "errors": samples.errors, "calls_per_s": rate,
                "p50_ms": ms(p50), "p90_ms": ms(p90), "p99_ms": ms(p99),
                "seconds": elapsed.as_secs_f64(),
            });
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(file, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted_samples() {
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&sorted, 0.5), Duration::from_millis(51));
        assert_eq!(percentile(&sorted, 0.99), Duration::from_millis(100));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
