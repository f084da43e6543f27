//! The loader and its disk cache, driven directly (no HTTP).

use crate::support;

use std::sync::Arc;

use mcp_host::capabilities::Capabilities;
use mcp_host::runtime::cache::{CompiledCache, Origin};
use mcp_host::runtime::engine;
use mcp_host::runtime::limits::SandboxLimits;
use mcp_host::runtime::loader::{LoadError, Loader};
use mcp_host::runtime::policy::{Ceilings, Grant, Policy};
use mcp_host::runtime::registry::Registry;
use mcp_host::runtime::sandbox::Sandbox;
use support::fixture;

fn loader(cache_dir: Option<std::path::PathBuf>) -> Loader {
    let limits = SandboxLimits::default();
    let engine = engine::build(&limits).unwrap();
    let sandbox = Arc::new(Sandbox::new(Capabilities::default()));
    let cache = CompiledCache::new(cache_dir, &engine);
    Loader::new(
        engine,
        cache,
        sandbox,
        Policy::open(Ceilings::new(&limits, 10_000)),
    )
    .unwrap()
}

#[tokio::test]
async fn a_restart_reuses_compiled_code_from_the_disk_cache() {
    let cache = tempfile::tempdir().unwrap();
    let path = fixture("get_current_utc_date");
    let bytes = std::fs::read(&path).unwrap();

    let first = loader(Some(cache.path().into()))
        .load(&path, bytes.clone())
        .await
        .unwrap();
    assert_eq!(first.origin, Origin::Compiled);
    // A new engine (as after a restart) finds the entry.
    let second = loader(Some(cache.path().into()))
        .load(&path, bytes.clone())
        .await
        .unwrap();
    assert_eq!(second.origin, Origin::Cache);
    assert_eq!(first.digest, second.digest);

    // A damaged entry is discarded and rebuilt, not trusted.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = loader(Some(cache.path().into()))
        .load(&path, bytes)
        .await
        .unwrap();
    assert_eq!(third.origin, Origin::Compiled);
}

#[tokio::test]
async fn load_errors_say_what_is_wrong() {
    let loader = loader(None);
    let junk = loader
        .load("junk.wasm".as_ref(), b"junk".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(junk, LoadError::Compile(_)), "{junk}");

    let path = fixture("wrong_version");
    let wrong = loader
        .load(&path, std::fs::read(&path).unwrap())
        .await
        .unwrap_err();
    let message = wrong.to_string();
    assert!(
        message.contains("zava:mcp@9.0.0") && message.contains("zava:mcp@0.1.0"),
        "{message}"
    );
}

#[tokio::test]
async fn tools_are_discovered_with_their_schemas() {
    let path = fixture("get_current_utc_date");
    let component = loader(None)
        .load(&path, std::fs::read(&path).unwrap())
        .await
        .unwrap();
    assert_eq!(component.tools.len(), 1);
    let tool = &component.tools[0];
    assert_eq!(tool.name, "get_current_utc_date");
    assert!(tool.has_output_schema);
    assert_eq!(tool.mcp.input_schema.get("type").unwrap(), "object");
}

/// A big component (a Python runtime inside) not in the cache serves from
/// Winch's baseline code at once, runs its calls there (a runaway loop is
/// still stopped at the deadline), and is replaced by Cranelift's code,
/// which lands in the disk cache: a restart loads it optimised.
#[tokio::test]
async fn a_big_component_serves_from_baseline_code_until_optimised_code_is_ready() {
    use mcp_host::identity::Identity;
    use mcp_host::runtime::loader::Tier;
    use mcp_host::runtime::sandbox::{Answer, CallError};

    let cache = tempfile::tempdir().unwrap();
    let limits = SandboxLimits {
        deadline: std::time::Duration::from_secs(3),
        ..SandboxLimits::default()
    };
    let with_baseline = || {
        let engine = engine::build(&limits).unwrap();
        let sandbox = Arc::new(Sandbox::new(Capabilities::default()));
        let cache = CompiledCache::new(Some(cache.path().into()), &engine);
        let loader = Loader::new(
            engine,
            cache,
            sandbox.clone(),
            Policy::open(Ceilings::new(&limits, 10_000)),
        )
        .unwrap()
        .with_baseline(engine::build_baseline(&limits).unwrap())
        .unwrap();
        (loader, sandbox)
    };
    let path = fixture("py_hostile");
    let bytes = std::fs::read(&path).unwrap();
    let caller = Identity::dev(uuid::Uuid::nil(), mcp_host::identity::Scope::HeadOffice);
    let ok = |answer: Result<Answer, CallError>| match answer {
        Ok(Answer::Tool(output)) => format!("{:?}", output.content),
        other => panic!("py_ok answered {other:?}"),
    };

    let (loader, sandbox) = with_baseline();
    let baseline = loader.load(&path, bytes.clone()).await.unwrap();
    assert_eq!(baseline.tier, Tier::Baseline);
    let answer = sandbox.call_tool(&baseline, "py_ok", "{}", &caller).await;
    assert!(ok(answer.result).contains("ok"));
    let looped = sandbox.call_tool(&baseline, "py_loop", "{}", &caller).await;
    assert!(
        matches!(looped.result, Err(CallError::Deadline(_))),
        "{:?}",
        looped.result.err()
    );

    // A compile no longer wanted when its turn comes is skipped.
    assert!(loader.tier_up(&baseline, || false).await.unwrap().is_none());

    // The policy narrows the grant while Cranelift compiles: the optimised
    // code swapped in keeps the grant in force, not the load-time one.
    let registry = Registry::default();
    registry
        .install(baseline.with_grant(baseline.grant.clone()))
        .unwrap();
    let optimized = loader.tier_up(&baseline, || true).await.unwrap().unwrap();
    let narrowed = Grant {
        memory_bytes: 1 << 20,
        ..baseline.grant.clone()
    };
    assert!(registry.regrant(&path, &baseline.digest, narrowed.clone()));
    assert!(registry.upgrade(optimized.with_grant(optimized.grant.clone())));
    let now = registry.snapshot().component(&path).unwrap().clone();
    assert_eq!((now.tier, &now.grant), (Tier::Optimized, &narrowed));
    assert!(!registry.serves_baseline(&path, &baseline.digest));

    assert_eq!(optimized.tier, Tier::Optimized);
    assert_eq!(optimized.tools.len(), baseline.tools.len());
    let answer = sandbox.call_tool(&optimized, "py_ok", "{}", &caller).await;
    assert!(ok(answer.result).contains("ok"));

    // A restart finds the optimised code in the cache: no baseline step.
    let (restarted, _) = with_baseline();
    let again = restarted.load(&path, bytes).await.unwrap();
    assert_eq!((again.tier, again.origin), (Tier::Optimized, Origin::Cache));
}
