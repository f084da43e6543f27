//! Hot swap under load: replaces `probe.wasm` in the watched folder
//! `--swaps` times during the run (alternating two builds that answer
//! differently), and measures how long each new version takes to answer.
//! The sessions calling `swap_probe` meanwhile count any failed call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use crate::RunArgs;
use crate::client;

const TARGET: &str = "probe.wasm";
/// How often the watcher's work is polled for the new answer.
const POLL: Duration = Duration::from_millis(5);
/// Longest wait for one version before calling the swap lost.
const GIVE_UP: Duration = Duration::from_secs(30);

pub async fn run(args: Arc<RunArgs>) -> anyhow::Result<String> {
    let dir = args.swap_dir.as_ref().context("--swap-dir is required")?;
    anyhow::ensure!(args.swap_files.len() == 2, "--swap-files takes two files");
    let user = client::users(&["head-office".into()])?.remove(0);
    let session = client::connect(&args.url, &user).await?;
    let answer = || async {
        client::call(&session, "swap_probe", &json!({}))
            .await
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .unwrap_or_default()
    };
    let interval = args.duration / (args.swaps as u32 + 1);
    let mut answers = [answer().await, String::new()];
    let mut visible = Vec::new();
    for i in 0..args.swaps {
        tokio::time::sleep(interval).await;
        // Odd swaps install the first file again, even ones the second.
        let next = (i + 1) % 2;
        let tmp = dir.join(format!(".{TARGET}.tmp"));
        std::fs::copy(&args.swap_files[next], &tmp)?;
        let swapped = Instant::now();
        std::fs::rename(&tmp, dir.join(TARGET))?;
        let previous = answers[1 - next].clone();
        loop {
            let now = answer().await;
            let expected = &answers[next];
            let arrived = if expected.is_empty() {
                !now.is_empty() && now != *previous
            } else {
                now == *expected
            };
            if arrived {
                answers[next] = now;
                visible.push(swapped.elapsed());
                break;
            }
            anyhow::ensure!(swapped.elapsed() < GIVE_UP, "swap {i} never became visible");
            tokio::time::sleep(POLL).await;
        }
    }
    let _ = session.cancel().await;
    visible.sort();
    let ms = |d: &Duration| d.as_secs_f64() * 1e3;
    Ok(format!(
        "hot swap: {} swaps, visible after p50 {:.0} ms, max {:.0} ms",
        visible.len(),
        visible.get(visible.len() / 2).map_or(0.0, ms),
        visible.last().map_or(0.0, ms)
    ))
}
