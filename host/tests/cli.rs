//! The `mcp-host` binary's command line: help for every command, the
//! container health check, and a config file driving `serve`.

use crate::support;

use std::process::Command;

use support::TestServer;

fn mcp_host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mcp-host"))
}

#[test]
fn every_command_has_help_naming_its_environment_variables() {
    for (command, expect) in [
        (vec!["--help"], "serve"),
        (vec!["serve", "--help"], "[env: MCP_IDENTITY="),
        (vec!["migrate", "--help"], "[env: DATABASE_URL"),
        (vec!["seed", "--help"], "--if-empty"),
        (vec!["embed", "--help"], "[env: AZURE_OPENAI_ENDPOINT"),
        (vec!["healthcheck", "--help"], "[env: MCP_HEALTHCHECK_URL="),
        (vec!["check-component", "--help"], "[env: MCP_POLICY_FILE="),
    ] {
        let output = mcp_host().args(&command).output().unwrap();
        assert!(output.status.success(), "{command:?}");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(text.contains(expect), "{command:?}: {text}");
        assert!(text.contains("--config"), "{command:?} documents --config");
    }
}

// Multi-threaded: the check is a blocking child process while this test's
// runtime also serves the request it makes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_says_whether_the_server_answers() {
    let server = TestServer::start(&["get_current_utc_date"]).await;
    let url = format!("{}/healthz", server.base);
    let ok = mcp_host()
        .args(["healthcheck", "--url", &url])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    server.stop().await;
    let down = mcp_host()
        .args(["healthcheck", "--url", &url, "--timeout", "1s"])
        .output()
        .unwrap();
    assert!(!down.status.success());
}

#[tokio::test]
async fn a_config_file_configures_serve() {
    let dir = tempfile::tempdir().unwrap();
    let components = dir.path().join("components");
    std::fs::create_dir(&components).unwrap();
    std::fs::copy(
        support::fixture("get_current_utc_date"),
        components.join("get_current_utc_date.wasm"),
    )
    .unwrap();
    let port = support::free_port();
    let config = dir.path().join("mcp-host.toml");
    std::fs::write(
        &config,
        format!(
            "log-format = \"json\"\n[serve]\nidentity = \"dev-header\"\nlisten = \"127.0.0.1:{port}\"\n\
             components = \"{}\"\nno-database = true\nembeddings = \"none\"\naudit-log = \"off\"\n",
            components.display()
        ),
    )
    .unwrap();
    let mut child = mcp_host()
        .arg("serve")
        .env("MCP_CONFIG", &config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    support::wait_until_ready(&mut child, port).await;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let client = support::McpClient::connect(&url, support::HEAD_OFFICE).await;
    assert_eq!(client.tool_names().await, vec!["get_current_utc_date"]);
    drop(client);
    // SAFETY: plain signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    let banner = logs
        .lines()
        .find(|l| l.contains("mcp-host listening"))
        .expect("a start-up banner");
    let banner: serde_json::Value = serde_json::from_str(banner).expect("JSON logs, from the file");
    assert_eq!(banner["identity"], "dev-header");
    assert_eq!(banner["tools"], 1);
    assert!(
        banner["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port}/mcp"))
    );
}

#[test]
fn check_component_says_what_a_component_offers_and_what_the_policy_grants() {
    let ok = mcp_host()
        .args(["check-component"])
        .arg(support::fixture("conformance"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    for expected in [
        "ok: serve would load it",
        "contract  zava:mcp@0.2.0",
        "zava:mcp/client@0.2.0",
        "tool test_simple_text:",
        "prompt test_prompt_with_arguments(arg1, arg2):",
        "resource test://static-text (text/plain)",
        "resource template test://template/{id}/data",
        "policy    everything (no policy file)",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }

    // Judged by a policy: granted narrower, or refused with serve's reason.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[components.conformance]\nimports = []\nmemory_mib = 16\n",
    )
    .unwrap();
    let granted = mcp_host()
        .args(["check-component", "--json", "--policy"])
        .arg(&policy)
        .arg(support::fixture("conformance"))
        .output()
        .unwrap();
    assert!(granted.status.success());
    let report: serde_json::Value = serde_json::from_slice(&granted.stdout).unwrap();
    assert_eq!(report["policy"]["memory_mib"], 16);
    assert!(report["tools"].as_array().unwrap().len() > 5);
    std::fs::write(&policy, "[components.someone_else]\nimports = []\n").unwrap();
    let refused = mcp_host()
        .args(["check-component", "--policy"])
        .arg(&policy)
        .arg(support::fixture("conformance"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).starts_with("component rejected: "));
    // Described, but the headline is the verdict: no "ok" for a refusal.
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(!text.contains("ok: serve would load it"), "{text}");
    assert!(
        text.starts_with("conformance.wasm  REFUSED: serve would not load it"),
        "{text}"
    );
    assert!(text.contains("tool test_simple_text:"), "{text}");
    assert!(
        text.contains("policy    REFUSED: the component policy does not list `conformance`"),
        "{text}"
    );
}

#[test]
fn check_component_names_a_file_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.wasm");
    let check = mcp_host()
        .arg("check-component")
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!check.status.success());
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(
        said.contains(&format!(
            "cannot read {}: No such file or directory",
            missing.display()
        )),
        "{said}"
    );
}

/// `serve` with `dir` as its components folder (and its `policy.toml`, if
/// there is one): the line it logs when it refuses `file`.
async fn serve_logs_refusal(dir: &std::path::Path, file: &str) -> String {
    let port = support::free_port();
    let mut child = mcp_host()
        .args([
            "--log-format",
            "json",
            "serve",
            "--identity",
            "dev-header",
            "--no-database",
        ])
        .args(["--embeddings", "none", "--audit-log", "off", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--components")
        .arg(dir)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    support::wait_until_ready(&mut child, port).await;
    // SAFETY: plain signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|l| {
            let message = l["message"].as_str()?;
            (message.starts_with("component rejected") && l["file"] == file)
                .then(|| message.to_string())
        })
        .unwrap_or_else(|| panic!("serve logs the refusal of {file}:\n{logs}"))
}

/// The policy judges the component before anything else, and it is asked
/// what it offers under the grant it would serve with: a memory limit too
/// small for it refuses it here as in `serve`, with the same line.
#[tokio::test]
async fn check_component_loads_under_the_grant_serve_would_give() {
    for (policy, expected) in [
        (
            "[components.conformance]\nmemory_mib = 1\n",
            "more than its 1 MiB memory limit",
        ),
        (
            "[components.someone_else]\n",
            "the component policy does not list `conformance`",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("conformance.wasm");
        std::fs::copy(support::fixture("conformance"), &file).unwrap();
        std::fs::write(dir.path().join("policy.toml"), policy).unwrap();
        // The policy beside the file, as serve finds it in its folder.
        let check = mcp_host()
            .arg("check-component")
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&check.stdout);
        let said = String::from_utf8_lossy(&check.stderr).trim().to_string();
        assert_eq!(check.status.code(), Some(1), "{policy}: {text}{said}");
        assert!(
            !text.contains("ok: serve would load it"),
            "{policy}: {text}"
        );
        assert!(said.contains(expected), "{policy}: {said}");
        assert_eq!(said.lines().count(), 1, "{said}");
        assert_eq!(
            said,
            serve_logs_refusal(dir.path(), "conformance.wasm").await
        );
    }
}

#[tokio::test]
async fn check_component_refuses_another_contract_with_the_message_serve_logs() {
    let check = mcp_host()
        .arg("check-component")
        .arg(support::fixture("wrong_version"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let said = String::from_utf8_lossy(&check.stderr).trim().to_string();
    assert!(said.contains("zava:mcp@9.0.0"), "{said}");

    // `serve` with the same file in its folder logs the same line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        support::fixture("wrong_version"),
        dir.path().join("wrong_version.wasm"),
    )
    .unwrap();
    std::fs::copy(
        support::fixture("get_current_utc_date"),
        dir.path().join("get_current_utc_date.wasm"),
    )
    .unwrap();
    assert_eq!(
        said,
        serve_logs_refusal(dir.path(), "wrong_version.wasm").await
    );
}
