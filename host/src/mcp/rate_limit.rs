//! Per-caller limits on tool calls: how many may run at once, and how many
//! may start per period (a token bucket: bursts up to the full allowance,
//! refilled evenly). Keyed by the principal, so one busy user or a runaway
//! agent cannot take the server from everyone else.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `N/period`, e.g. `600/1m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub calls: u32,
    pub per: Duration,
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let (calls, per) = text
            .split_once('/')
            .ok_or_else(|| format!("rate `{text}` must look like 600/1m"))?;
        let calls: u32 = calls
            .trim()
            .parse()
            .map_err(|_| format!("rate `{text}`: `{calls}` is not a count"))?;
        let per =
            humantime::parse_duration(per.trim()).map_err(|e| format!("rate `{text}`: {e}"))?;
        if calls == 0 || per.is_zero() {
            return Err(format!(
                "rate `{text}` must allow at least one call per non-zero period"
            ));
        }
        Ok(Self { calls, per })
    }
}

/// A rate, or `off`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSetting(pub Option<Rate>);

impl std::str::FromStr for RateSetting {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "off" | "none" => Ok(Self(None)),
            other => other.parse().map(|rate| Self(Some(rate))),
        }
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.calls, humantime::format_duration(self.per))
    }
}

/// Why a call was not started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "too many calls at once: at most {limit} of your tool calls may run at the same time; wait for one to finish"
    )]
    Concurrency { limit: u32 },
    #[error("rate limit: at most {rate} tool calls per caller; retry in {:.1} s", .retry_after.as_secs_f64())]
    Rate { rate: Rate, retry_after: Duration },
}

impl Refusal {
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Concurrency { .. } => None,
            Self::Rate { retry_after, .. } => Some(*retry_after),
        }
    }
}

struct Bucket {
    in_flight: u32,
    tokens: f64,
    updated: Instant,
}

/// Entries kept before idle ones (nothing running, bucket full) are dropped.
const TIDY_ABOVE: usize = 10_000;

pub struct CallerLimits {
    max_concurrent: u32,
    rate: Option<Rate>,
    buckets: Mutex<HashMap<Arc<str>, Bucket>>,
}

/// A started call; dropping it frees its concurrency slot.
pub struct Permit {
    limits: Arc<CallerLimits>,
    principal: Arc<str>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut buckets = self.limits.lock();
        if let Some(bucket) = buckets.get_mut(&self.principal) {
            bucket.in_flight = bucket.in_flight.saturating_sub(1);
        }
    }
}

impl CallerLimits {
    /// `max_concurrent` 0 means unlimited; `rate` `None` means no rate limit.
    pub fn new(max_concurrent: u32, rate: Option<Rate>) -> Arc<Self> {
        Arc::new(Self {
            max_concurrent,
            rate,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Bucket>> {
        self.buckets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a call for `principal`, or says why not.
    pub fn acquire(self: &Arc<Self>, principal: &Arc<str>) -> Result<Permit, Refusal> {
        self.acquire_at(principal, Instant::now())
    }

    fn acquire_at(self: &Arc<Self>, principal: &Arc<str>, now: Instant) -> Result<Permit, Refusal> {
        let capacity = self.rate.map_or(0.0, |r| r.calls as f64);
        let mut buckets = self.lock();
        if buckets.len() > TIDY_ABOVE {
            buckets.retain(|_, b| b.in_flight > 0 || self.refilled(b, now) < capacity);
        }
        let bucket = buckets.entry(principal.clone()).or_insert(Bucket {
            in_flight: 0,
            tokens: capacity,
            updated: now,
        });
        if self.max_concurrent > 0 && bucket.in_flight >= self.max_concurrent {
            return Err(Refusal::Concurrency {
                limit: self.max_concurrent,
            });
        }
        if let Some(rate) = self.rate {
            bucket.tokens = self.refilled(bucket, now);
            bucket.updated = now;
            if bucket.tokens < 1.0 {
                let per_call = rate.per.as_secs_f64() / rate.calls as f64;
                return Err(Refusal::Rate {
                    rate,
                    retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) * per_call),
                });
            }
            bucket.tokens -= 1.0;
        }
        bucket.in_flight += 1;
        Ok(Permit {
            limits: self.clone(),
            principal: principal.clone(),
        })
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let Some(rate) = self.rate else { return 0.0 };
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        let refill = elapsed * rate.calls as f64 / rate.per.as_secs_f64();
        (bucket.tokens + refill).min(rate.calls as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str) -> Arc<str> {
        name.into()
    }

    #[test]
    fn rates_parse() {
        let rate: Rate = "600/1m".parse().unwrap();
        assert_eq!(
            rate,
            Rate {
                calls: 600,
                per: Duration::from_secs(60)
            }
        );
        assert!("0/1m".parse::<Rate>().is_err());
        assert!("10/0s".parse::<Rate>().is_err());
        assert!("ten/1m".parse::<Rate>().is_err());
        assert!("600".parse::<Rate>().is_err());
    }

    #[test]
    fn bucket_allows_a_burst_then_refills_evenly() {
        let limits = CallerLimits::new(0, Some("3/3s".parse().unwrap()));
        let (alice, bob) = (who("alice"), who("bob"));
        let t0 = Instant::now();
        let permits: Vec<_> = (0..3)
            .map(|_| limits.acquire_at(&alice, t0).unwrap())
            .collect();
        let refused = limits.acquire_at(&alice, t0).err().unwrap();
        let retry = refused.retry_after().unwrap();
        assert!((retry.as_secs_f64() - 1.0).abs() < 1e-6, "{retry:?}");
        // Others are not affected.
        assert!(limits.acquire_at(&bob, t0).is_ok());
        // One call's worth of time later, exactly one more call.
        let t1 = t0 + Duration::from_secs(1);
        assert!(limits.acquire_at(&alice, t1).is_ok());
        assert!(limits.acquire_at(&alice, t1).is_err());
        drop(permits);
    }

    #[test]
    fn concurrency_slots_are_freed_when_calls_end() {
        let limits = CallerLimits::new(2, None);
        let alice = who("alice");
        let a = limits.acquire(&alice).unwrap();
        let _b = limits.acquire(&alice).unwrap();
        assert_eq!(
            limits.acquire(&alice).err(),
            Some(Refusal::Concurrency { limit: 2 })
        );
        drop(a);
        assert!(limits.acquire(&alice).is_ok());
    }

    #[test]
    fn a_refused_concurrent_call_costs_no_token() {
        let limits = CallerLimits::new(1, Some("2/1h".parse().unwrap()));
        let alice = who("alice");
        let first = limits.acquire(&alice).unwrap();
        assert!(matches!(
            limits.acquire(&alice),
            Err(Refusal::Concurrency { .. })
        ));
        drop(first);
        assert!(
            limits.acquire(&alice).is_ok(),
            "the second token is still there"
        );
    }
}
