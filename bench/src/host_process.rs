//! The server's CPU time and resident memory, from /proc (Linux).

use anyhow::Context;

/// User + system CPU seconds the process has used.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("no process {pid}"))?;
    // The command name (field 2) may contain spaces; fields after it are fixed.
    let after = &stat[stat.rfind(')').context("malformed stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).context("no utime")?.parse()?;
    let stime: f64 = fields.get(12).context("no stime")?.parse()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((utime + stime) / ticks)
}

pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    mcp_host::metrics::resident_memory(&pid.to_string())
        .with_context(|| format!("no memory figures for process {pid}"))
}

/// CPU use and peak memory of the server over a run.
pub struct Watch {
    pid: u32,
    cpu_start: f64,
    started: std::time::Instant,
    peak_rss: std::sync::Arc<std::sync::atomic::AtomicU64>,
    sampler: tokio::task::JoinHandle<()>,
}

impl Watch {
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        let peak_rss = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(rss_bytes(pid)?));
        let peak = peak_rss.clone();
        let sampler = tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                if let Ok(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        Ok(Self {
            pid,
            cpu_start: cpu_seconds(pid)?,
            started: std::time::Instant::now(),
            peak_rss,
            sampler,
        })
    }

    /// "host CPU x.xx cores, peak RSS y MiB".
    pub fn finish(self) -> String {
        self.sampler.abort();
        let cores = cpu_seconds(self.pid)
            .map(|cpu| (cpu - self.cpu_start) / self.started.elapsed().as_secs_f64())
            .unwrap_or(f64::NAN);
        let peak = self.peak_rss.load(std::sync::atomic::Ordering::Relaxed);
        format!(
            "host CPU {cores:.2} cores, peak RSS {:.0} MiB",
            peak as f64 / (1 << 20) as f64
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(cpu_seconds(me).unwrap() >= 0.0);
        assert!(rss_bytes(me).unwrap() > 1 << 20);
    }
}
