//! `mcp-host new-tool` in each language: the scaffold builds as it is, with
//! the project's own tools (cargo for wasm32-wasip2, componentize-py,
//! componentize-js), and the component it makes loads and answers.
//!
//! Each scaffold is made in a throwaway project (the repository's `wit/`,
//! a workspace that uses the repository's SDK), so the repository is never
//! touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A project with the repository's WIT, a component policy and (for Rust)
/// a workspace whose `zava-tool` is the repository's SDK.
fn project() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let wit = root.path().join("wit");
    std::fs::create_dir_all(wit.join("v0.1")).unwrap();
    std::fs::copy(repo().join("wit/zava-mcp.wit"), wit.join("zava-mcp.wit")).unwrap();
    std::fs::copy(
        repo().join("wit/v0.1/zava-mcp.wit"),
        wit.join("v0.1/zava-mcp.wit"),
    )
    .unwrap();
    std::fs::create_dir(root.path().join("components")).unwrap();
    std::fs::write(
        root.path().join("components/policy.toml"),
        "# scaffold test\n",
    )
    .unwrap();
    let sdk = repo().join("sdk/rust");
    std::fs::write(
        root.path().join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\n]\n\n\
             [workspace.package]\nedition = \"2024\"\nrust-version = \"1.95\"\nlicense = \"MIT\"\npublish = false\n\n\
             [workspace.dependencies]\nserde = {{ version = \"1\", features = [\"derive\"] }}\n\
             schemars = \"1\"\nzava-tool = {{ path = \"{}\" }}\n\n\
             [profile.component]\ninherits = \"release\"\nopt-level = \"s\"\nstrip = true\n",
            sdk.display()
        ),
    )
    .unwrap();
    root
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `new-tool`, then the language's build; returns the component's bytes.
fn scaffold_and_build(lang: &str, name: &str) -> (tempfile::TempDir, Vec<u8>) {
    let root = project();
    run(
        Command::new(env!("CARGO_BIN_EXE_mcp-host"))
            .args(["new-tool", "--lang", lang, name, "--root"])
            .arg(root.path()),
        "new-tool",
    );
    let policy = std::fs::read_to_string(root.path().join("components/policy.toml")).unwrap();
    let file = name.replace('-', "_");
    assert!(policy.contains(&format!("[components.{file}]")), "{policy}");
    let out = root.path().join(format!("{file}.wasm"));
    match lang {
        "rust" => {
            let manifest = std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap();
            assert!(
                manifest.contains(&format!("\"components/{name}\"")),
                "{manifest}"
            );
            run(
                Command::new(env!("CARGO"))
                    .current_dir(root.path())
                    .args([
                        "build",
                        "--quiet",
                        "--profile",
                        "component",
                        "--target",
                        "wasm32-wasip2",
                        "-p",
                        name,
                    ])
                    // The repository's component build cache: the SDK and its
                    // dependencies are compiled already.
                    .env("CARGO_TARGET_DIR", repo().join("target/wasm")),
                "cargo build",
            );
            std::fs::copy(
                repo().join(format!("target/wasm/wasm32-wasip2/component/{file}.wasm")),
                &out,
            )
            .unwrap();
        }
        _ => {
            let tools = repo().join("target/tools");
            run(
                Command::new("bash")
                    .arg(root.path().join(format!("components/{name}/build.sh")))
                    .arg(&out)
                    .env("COMPONENTIZE_PY", tools.join("venv/bin/componentize-py"))
                    .env("COMPONENTIZE_JS_DIR", tools.join("node")),
                "build.sh",
            );
        }
    }
    let bytes = std::fs::read(&out).unwrap();
    (root, bytes)
}

async fn loads_and_answers(lang: &str, name: &str) {
    let (_project, bytes) = scaffold_and_build(lang, name);
    let tool = name.replace('-', "_");
    let server = TestServer::start(&[]).await;
    let mut client = server.client(SEATTLE).await;
    server.write_file(&format!("{tool}.wasm"), &bytes);
    client.next_list_changed().await;
    assert!(client.tool_names().await.contains(&tool));
    let answer = client.call(&tool, json!({"name": "Ada"})).await;
    assert!(!is_error(&answer), "{}", text_of(&answer));
    assert!(
        text_of(&answer).contains("Hello, Ada!"),
        "{}",
        text_of(&answer)
    );
    let structured = answer.structured_content.expect("structured greeting");
    assert_eq!(structured["greeting"], "Hello, Ada!");
    let refused = client.call(&tool, json!({"name": 42})).await;
    assert!(is_error(&refused));
    assert!(
        text_of(&refused).contains("invalid arguments"),
        "{}",
        text_of(&refused)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.stop().await;
}

#[tokio::test]
async fn a_rust_scaffold_builds_and_loads() {
    loads_and_answers("rust", "scaffolded-rust").await;
}

#[tokio::test]
async fn a_python_scaffold_builds_and_loads() {
    loads_and_answers("python", "scaffolded-python").await;
}

#[tokio::test]
async fn a_javascript_scaffold_builds_and_loads() {
    loads_and_answers("js", "scaffolded-js").await;
}

/// What `new-tool` refuses, it refuses before writing anything, with the
/// reason on stderr: a Python name that is a keyword or one `app.py` uses,
/// a Rust name the project's crates already have, a tool the policy already
/// has an entry for (a pin to other bytes, say).
#[test]
fn new_tool_refuses_what_would_break_the_project_and_writes_nothing() {
    let root = project();
    let policy = root.path().join("components/policy.toml");
    std::fs::write(
        &policy,
        "# scaffold test\n# [components.commented_out]\n[components]\npinned.sha256 = \"9f2c000000000000000000000000000000000000000000000000000000000000\"\n",
    )
    .unwrap();
    let manifest = std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap();
    let policy_before = std::fs::read_to_string(&policy).unwrap();
    for (lang, name, reason) in [
        (
            "python",
            "import",
            "`import` in app.py would be a Python keyword",
        ),
        ("python", "match", "would be a Python keyword"),
        ("python", "scope", "would shadow `scope`"),
        ("python", "str", "would shadow Python's builtin `str`"),
        ("rust", "serde", "`cargo build -p serde` would be ambiguous"),
        ("js", "pinned", "already has an entry for `pinned`"),
        ("rust", "pinned", "sha256 = \"9f2c"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_mcp-host"))
            .args(["new-tool", "--lang", lang, name, "--root"])
            .arg(root.path())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{lang} {name}");
        assert!(said.contains(reason), "{lang} {name}: {said}");
        assert!(!root.path().join("components").join(name).exists());
        assert_eq!(
            std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap(),
            manifest
        );
        assert_eq!(std::fs::read_to_string(&policy).unwrap(), policy_before);
    }
    // A commented-out table is no entry: the tool is listed for real.
    run(
        Command::new(env!("CARGO_BIN_EXE_mcp-host"))
            .args(["new-tool", "--lang", "js", "commented-out", "--root"])
            .arg(root.path()),
        "new-tool",
    );
    let listed: toml::Table = std::fs::read_to_string(&policy).unwrap().parse().unwrap();
    assert!(listed["components"].get("commented_out").is_some());
    assert!(listed["components"].get("pinned").is_some());
}
