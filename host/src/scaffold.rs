//! `mcp-host new-tool --lang rust|python|js NAME`: a component folder under
//! `components/` that builds as it is (`scripts/build-components.sh` picks
//! it up) and answers one tool, ready to edit. The helpers a Python or
//! JavaScript tool needs are the ones the project's own examples use,
//! copied in (this binary carries them), so a scaffold never drifts from
//! what is tested.

use std::path::{Path, PathBuf};

use crate::config::{Lang, NewToolArgs};

/// The files of one scaffold: relative path, contents, executable.
type Files = Vec<(PathBuf, String, bool)>;

const PY_HELPER: &str = include_str!("../../components/py-store-kpis/zava_tool/__init__.py");
const PY_BUILD: &str = include_str!("../../components/py-store-kpis/build.sh");
const PY_APP: &str = include_str!("scaffold/python_app.py");
const JS_HELPER: &str = include_str!("../../components/js-margin-calculator/zava-tool.js");
const JS_BUILD: &str = include_str!("../../components/js-margin-calculator/build.sh");
const JS_BUILD_MJS: &str = include_str!("../../components/js-margin-calculator/build.mjs");
const JS_INDEX: &str = include_str!("scaffold/js_index.js");

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{0:?} is not a component name: use 1-64 characters a-z, 0-9 and `-`, starting with a letter"
    )]
    BadName(String),
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error(
        "no wit/zava-mcp.wit in {0} or above: run new-tool inside the project (or give --root)"
    )]
    NoProject(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// The project root: the nearest folder at or above `start` with the WIT.
fn project_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("wit/zava-mcp.wit").is_file())
        .map(Path::to_path_buf)
}

fn fill(template: &str, name: &str) -> String {
    let tool = name.replace('-', "_");
    template
        .replace("{{tool}}", &tool)
        .replace("{{file}}", &tool)
        .replace("{{dir}}", name)
}

fn files(lang: Lang, name: &str) -> Files {
    let text = |path: &str, contents: String| (PathBuf::from(path), contents, false);
    let script = |path: &str, contents: &str| (PathBuf::from(path), contents.to_string(), true);
    match lang {
        Lang::Python => vec![
            text("app.py", fill(PY_APP, name)),
            text("zava_tool/__init__.py", PY_HELPER.to_string()),
            script("build.sh", PY_BUILD),
        ],
        Lang::Js => vec![
            text("index.js", fill(JS_INDEX, name)),
            text("zava-tool.js", JS_HELPER.to_string()),
            script("build.sh", JS_BUILD),
            text("build.mjs", JS_BUILD_MJS.to_string()),
        ],
        Lang::Rust => rust_files(name),
    }
}

/// The Rust scaffold is the project's own template (components/template,
/// built and tested with the rest), renamed.
fn rust_files(name: &str) -> Files {
    let tool = name.replace('-', "_");
    let rename = |text: &str| {
        text.replace("tool-template", name)
            .replace("tool_template", &tool)
            .replace("template_greet", &tool)
    };
    vec![
        (
            PathBuf::from("Cargo.toml"),
            rename(include_str!("../../components/template/Cargo.toml")),
            false,
        ),
        (
            PathBuf::from("src/lib.rs"),
            rename(include_str!("../../components/template/src/lib.rs")),
            false,
        ),
    ]
}

/// Adds `components/NAME` to the workspace members (Rust only): members are
/// listed one by one (a glob would take Python and JavaScript folders too).
fn join_workspace(root: &Path, name: &str) -> Result<(), ScaffoldError> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| ScaffoldError::Write(manifest.clone(), e))?;
    let member = format!("\"components/{name}\"");
    if text.contains(&member) {
        return Ok(());
    }
    let Some(at) = text.find("members = [") else {
        return Ok(());
    };
    let at = at + "members = [".len();
    let updated = format!("{}\n    {member},{}", &text[..at], &text[at..]);
    std::fs::write(&manifest, updated).map_err(|e| ScaffoldError::Write(manifest, e))
}

/// Lists the new component in the component policy (once a policy exists,
/// an unlisted component is refused), with no imports: the author adds
/// `"database"` when the tool queries.
fn join_policy(root: &Path, name: &str) -> Result<bool, ScaffoldError> {
    let policy = root.join("components/policy.toml");
    let Ok(mut text) = std::fs::read_to_string(&policy) else {
        return Ok(false);
    };
    let key = name.replace('-', "_");
    if text.contains(&format!("[components.{key}]")) {
        return Ok(true);
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Added by `mcp-host new-tool`; grant \"database\" if it queries as the caller.\n\
         [components.{key}]\nimports = []\n"
    ));
    std::fs::write(&policy, text).map_err(|e| ScaffoldError::Write(policy, e))?;
    Ok(true)
}

/// Writes the scaffold; returns its folder.
pub fn run(args: &NewToolArgs) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(&args.name) {
        return Err(ScaffoldError::BadName(args.name.clone()));
    }
    let start = match &args.root {
        Some(root) => root.clone(),
        None => std::env::current_dir().map_err(|e| ScaffoldError::Write(".".into(), e))?,
    };
    let root = project_root(&start).ok_or(ScaffoldError::NoProject(start))?;
    let dir = root.join("components").join(&args.name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    for (path, contents, executable) in files(args.lang, &args.name) {
        let path = dir.join(path);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
            std::fs::write(&path, &contents)?;
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
            }
            Ok(())
        };
        write().map_err(|e| ScaffoldError::Write(path.clone(), e))?;
    }
    if args.lang == Lang::Rust {
        join_workspace(&root, &args.name)?;
    }
    join_policy(&root, &args.name)?;
    Ok(dir)
}

/// What to do next, for the terminal.
pub fn next_steps(lang: Lang, name: &str) -> String {
    let file = name.replace('-', "_");
    let build = match lang {
        Lang::Rust => format!(
            "cargo build --release --target wasm32-wasip2 -p {name}\n  \
             (the .wasm is target/wasm32-wasip2/release/{file}.wasm)"
        ),
        Lang::Python | Lang::Js => {
            format!("bash components/{name}/build.sh target/wasm/other-languages/{file}.wasm")
        }
    };
    format!(
        "created components/{name} (tool `{file}`), listed in components/policy.toml\n\
         build:   {build}\n\
         or all:  scripts/build-components.sh   (installs components-dist/{file}.wasm)\n\
         check:   mcp-host check-component components-dist/{file}.wasm\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_folder_and_tool_safe() {
        assert!(valid_name("store-kpis"));
        assert!(valid_name("a1"));
        for bad in [
            "",
            "1a",
            "-a",
            "a-",
            "A",
            "a_b",
            "a b",
            "a/b",
            "..",
            &"a".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn templates_are_filled() {
        let py = files(Lang::Python, "my-tool");
        assert!(py[0].1.contains("def my_tool(") && !py[0].1.contains("{{"));
        let js = files(Lang::Js, "my-tool");
        assert!(js[0].1.contains("name: 'my_tool'") && !js[0].1.contains("{{"));
        let rust = files(Lang::Rust, "my-tool");
        assert!(rust[0].1.contains("name = \"my-tool\""));
        assert!(rust[1].1.contains("\"my_tool\"") && !rust[1].1.contains("template_greet"));
    }
}
