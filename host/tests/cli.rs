//! The `mcp-host` binary's command line: help for every command, the
//! container health check, and a config file driving `serve`.

mod support;

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
