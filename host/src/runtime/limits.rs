//! Resource limits for sandboxed calls.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Limits every call runs under. Configured once for the whole host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Wall-clock budget of one tool call, host imports included.
    pub deadline: Duration,
    /// Largest linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Instances that may exist at once (calls in flight, plus loads).
    pub max_instances: u32,
    /// Memory an instance slot keeps resident after its call: the next
    /// instance of the same component in that slot finds the pages its
    /// predecessor touched resident (reset to the image's bytes, only those
    /// that were written) instead of faulting each one in again. A big
    /// runtime (CPython, a JavaScript engine) touches megabytes per call.
    /// Cost: an idle slot keeps what its last call touched, up to this; the
    /// pool reuses idle slots before cold ones once [`WARM_SLOTS`] are idle,
    /// so this is retained after a burst of concurrent calls rather than
    /// grown (it was resident during the burst).
    pub warm_memory_bytes: usize,
}

/// Idle slots the pool keeps for their component (its image mapped) before
/// it prefers reusing an idle slot over taking a fresh one.
pub const WARM_SLOTS: u32 = 8;

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(30),
            memory_bytes: 64 << 20,
            max_instances: 256,
            warm_memory_bytes: 16 << 20,
        }
    }
}

/// Table elements one instance may have; generous for real programs, small
/// enough that a table bomb is stopped early.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The per-call [`ResourceLimiter`]. Remembers a refused growth so a crash
/// that follows can be reported as "out of memory" rather than a bare trap.
#[derive(Debug)]
pub struct CallLimiter {
    memory_bytes: usize,
    pub memory_refused: bool,
}

impl CallLimiter {
    pub fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.memory_bytes;
        self.memory_refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_refuses_and_remembers_growth_past_the_limit() {
        let mut limiter = CallLimiter::new(1 << 20);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert!(!limiter.memory_refused);
        assert!(!limiter.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert!(limiter.memory_refused);
    }
}
