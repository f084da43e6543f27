//! The loader and its disk cache, driven directly (no HTTP).

mod support;

use std::sync::Arc;

use mcp_host::capabilities::Capabilities;
use mcp_host::runtime::cache::{CompiledCache, Origin};
use mcp_host::runtime::engine;
use mcp_host::runtime::limits::SandboxLimits;
use mcp_host::runtime::loader::{LoadError, Loader};
use mcp_host::runtime::policy::{Ceilings, Policy};
use mcp_host::runtime::sandbox::Sandbox;
use support::fixture;

fn loader(cache_dir: Option<std::path::PathBuf>) -> Loader {
    let limits = SandboxLimits::default();
    let engine = engine::build(&limits).unwrap();
    let sandbox = Arc::new(Sandbox::new(engine.clone(), Capabilities::default()));
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
