//! The one wasmtime [`Engine`] of the host.

use std::time::Duration;

use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    Strategy,
};

use super::limits::{SandboxLimits, WARM_SLOTS};

/// How often the epoch advances. A running guest yields to the async runtime
/// at every tick (so a busy loop cannot starve other calls) and checks its
/// deadline then, so deadlines are precise to about one tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Builds the engine: component model, async, epoch interruption, and the
/// pooling allocator sized for `limits`; code compiled by Cranelift.
pub fn build(limits: &SandboxLimits) -> wasmtime::Result<Engine> {
    build_with(limits, Strategy::Cranelift)
}

/// The same engine compiling with Winch, Wasmtime's baseline compiler:
/// several times faster to compile, slower code. A big component (a whole
/// Python or JavaScript runtime inside) serves from it first while
/// Cranelift compiles it in the background (see `Loader::tier_up`).
pub fn build_baseline(limits: &SandboxLimits) -> wasmtime::Result<Engine> {
    build_with(limits, Strategy::Winch)
}

fn build_with(limits: &SandboxLimits, strategy: Strategy) -> wasmtime::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    let instances = limits.max_instances;
    // A Rust tool component has one core module plus a few small shims.
    pool.total_component_instances(instances)
        .total_core_instances(instances * 8)
        .total_memories(instances * 2)
        .total_tables(instances * 8)
        .total_stacks(instances)
        .max_core_instances_per_component(16)
        .max_memories_per_component(2)
        .max_tables_per_component(16)
        .max_memory_size(limits.memory_bytes)
        // Warm slots: a slot keeps up to `warm_memory_bytes` resident and,
        // with PAGEMAP_SCAN (Linux 6.7+), resets only the pages the call
        // dirtied back to the component's image, so the next instance of
        // the same component takes no page faults on them. Idle slots past
        // WARM_SLOTS give their memory back.
        .linear_memory_keep_resident(limits.warm_memory_bytes)
        .table_keep_resident(limits.warm_memory_bytes.min(1 << 20))
        .pagemap_scan(Enabled::Auto)
        .max_unused_warm_slots(WARM_SLOTS);

    let mut config = Config::new();
    config
        .strategy(strategy)
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config)?;
    start_epoch_ticker(&engine)?;
    Ok(engine)
}

/// Advances the engine's epoch every [`EPOCH_TICK`] on a small thread that
/// ends when the engine is dropped.
fn start_epoch_ticker(engine: &Engine) -> wasmtime::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasm-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        // Without a ticker no deadline fires: refuse to start rather than run so.
        .map_err(|error| wasmtime::format_err!("cannot start the epoch ticker thread: {error}"))?;
    Ok(())
}
