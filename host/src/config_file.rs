//! `--config FILE` (or `MCP_CONFIG`): settings from a TOML file whose keys
//! are the flags' long names.
//!
//! ```toml
//! log-format = "json"            # top level: any command that has the flag
//! [serve]                        # only for `mcp-host serve`
//! identity = "entra"
//! entra-tenant-id = "7d3f…"
//! entra-audience = ["api://zava-mcp", "6f1c…"]
//! allow-dev-header-on-network = false
//! ```
//!
//! Precedence: command-line flags, then environment variables, then the
//! file, then built-in defaults. The file is turned into flags appended to
//! the command line (only for settings neither given as a flag nor set in
//! the environment), so clap validates file values exactly like flags.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::config::Cli;

/// Returns `argv` with the config file's settings appended, or `argv` as is
/// when no config file is named.
pub fn apply(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let Some(path) = config_path(&argv) else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("the config file {} is malformed: {e}", path.display()))?;
    let extra = flags_from(&table, &argv)
        .map_err(|e| format!("the config file {}: {e}", path.display()))?;
    let mut argv = argv;
    argv.extend(extra.into_iter().map(OsString::from));
    Ok(argv)
}

fn config_path(argv: &[OsString]) -> Option<PathBuf> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return args.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("MCP_CONFIG").map(PathBuf::from)
}

/// The subcommand named on the command line (the first word that is one).
fn subcommand(argv: &[OsString], command: &clap::Command) -> Option<String> {
    argv.iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .find(|a| command.find_subcommand(a).is_some())
}

fn flags_from(table: &toml::Table, argv: &[OsString]) -> Result<Vec<String>, String> {
    let root = Cli::command();
    let names: Vec<String> = root
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let Some(current) = subcommand(argv, &root) else {
        return Ok(Vec::new());
    };
    let sub = root
        .find_subcommand(&current)
        .expect("subcommand found above");
    let mut settings: Vec<(&str, &toml::Value, bool)> = Vec::new();
    for (key, value) in table {
        match value {
            toml::Value::Table(section) if names.contains(key) => {
                if *key == current {
                    settings.extend(section.iter().map(|(k, v)| (k.as_str(), v, true)));
                }
            }
            _ => settings.push((key.as_str(), value, false)),
        }
    }
    let given: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut flags = Vec::new();
    for (key, value, specific) in settings {
        let arg = sub
            .get_arguments()
            .chain(root.get_arguments())
            .find(|a| a.get_long() == Some(key));
        let Some(arg) = arg else {
            let elsewhere = root
                .get_subcommands()
                .any(|c| c.get_arguments().any(|a| a.get_long() == Some(key)));
            if specific || !elsewhere {
                return Err(format!(
                    "unknown setting `{key}` for `mcp-host {current}` (see `mcp-host {current} --help`)"
                ));
            }
            continue;
        };
        if key == "config" {
            continue;
        }
        let flag = format!("--{key}");
        if given
            .iter()
            .any(|g| *g == flag || g.starts_with(&format!("{flag}=")))
        {
            continue;
        }
        if arg
            .get_env()
            .is_some_and(|env| std::env::var_os(env).is_some())
        {
            continue;
        }
        let values: Vec<&toml::Value> = match value {
            toml::Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for value in values {
            match value {
                toml::Value::Boolean(true) => flags.push(flag.clone()),
                toml::Value::Boolean(false) => {}
                toml::Value::String(s) => flags.push(format!("{flag}={s}")),
                toml::Value::Integer(i) => flags.push(format!("{flag}={i}")),
                toml::Value::Float(f) => flags.push(format!("{flag}={f}")),
                other => {
                    return Err(format!(
                        "`{key}` must be a string, number, boolean or a list of them, not {}",
                        other.type_str()
                    ));
                }
            }
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Command, LogFormat};
    use clap::Parser;

    fn argv(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn with_file(text: &str, args: &[&str]) -> Result<Cli, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mcp-host.toml");
        std::fs::write(&path, text).unwrap();
        let mut full = vec!["mcp-host", "--config"];
        let path = path.display().to_string();
        full.push(&path);
        full.extend_from_slice(args);
        let argv = apply(argv(&full))?;
        Cli::try_parse_from(argv).map_err(|e| e.to_string())
    }

    const FILE: &str = r#"
        log-format = "json"
        max-rows = 500            # a database flag: every command has it
        [serve]
        identity = "entra"
        entra-tenant-id = "t-1"
        entra-audience = ["api://zava-mcp", "6f1c"]
        listen = "0.0.0.0:9000"
        no-cache = true
        [seed]
        scale = 0.5
    "#;

    #[test]
    fn file_settings_become_flags_for_the_running_command() {
        let cli = with_file(FILE, &["serve"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Serve(args) = cli.command else {
            panic!("serve")
        };
        assert_eq!(args.entra.entra_audience, vec!["api://zava-mcp", "6f1c"]);
        assert_eq!(args.listen.to_string(), "0.0.0.0:9000");
        assert!(args.no_cache);
        assert_eq!(args.db.max_rows, 500);
        // `[seed]` does not leak into serve; `[serve]` not into seed.
        let Command::Seed(seed) = with_file(FILE, &["seed"]).unwrap().command else {
            panic!("seed")
        };
        assert_eq!(seed.scale, 0.5);
        assert_eq!(seed.db.max_rows, 500);
    }

    #[test]
    fn flags_beat_the_file() {
        let Command::Serve(args) = with_file(FILE, &["serve", "--listen", "127.0.0.1:7000"])
            .unwrap()
            .command
        else {
            panic!("serve")
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:7000");
    }

    #[test]
    fn typos_and_bad_values_are_errors() {
        let error = with_file("[serve]\nidentty = \"entra\"\n", &["serve"]).unwrap_err();
        assert!(error.contains("unknown setting `identty`"), "{error}");
        let error = with_file("[serve]\nidentity = \"kerberos\"\n", &["serve"]).unwrap_err();
        assert!(error.contains("kerberos"), "{error}");
        let error =
            with_file("nonsense = 1\n", &["serve", "--identity", "dev-header"]).unwrap_err();
        assert!(error.contains("unknown setting `nonsense`"), "{error}");
    }

    #[test]
    fn no_config_leaves_argv_alone() {
        let args = argv(&["mcp-host", "serve", "--identity", "dev-header"]);
        if std::env::var_os("MCP_CONFIG").is_none() {
            assert_eq!(apply(args.clone()).unwrap(), args);
        }
    }
}
