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
    /// The tool's function in app.py would be named `function`, which
    /// Python or the scaffold itself already means otherwise.
    #[error(
        "{name:?} cannot name a Python tool: its function `{function}` in app.py {why}; choose another name"
    )]
    PythonName {
        name: String,
        function: String,
        why: String,
    },
    /// A workspace package of that name (or of that library name) exists:
    /// a second one breaks `cargo` for the whole project.
    #[error(
        "{name:?} cannot name a Rust tool: the workspace already has a package (or library) \
         named `{package}` ({}); a second one would break cargo for the whole project (or \
         overwrite its .wasm): choose another name",
        manifest.display()
    )]
    RustPackage {
        name: String,
        package: String,
        manifest: PathBuf,
    },
    /// A crate the project depends on has that name: `cargo build -p NAME`
    /// (and scripts/build-components.sh) would be ambiguous.
    #[error(
        "{0:?} cannot name a Rust tool: the project already depends on a crate of that name \
         (Cargo.lock, or the scaffold's own dependencies), so `cargo build -p {0}` would be \
         ambiguous; choose another name"
    )]
    RustDependency(String),
    #[error("{0} already exists; choose another name or remove it")]
    Exists(PathBuf),
    #[error(
        "no wit/zava-mcp.wit in {0} or above: run new-tool inside the project (or give --root)"
    )]
    NoProject(PathBuf),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
    #[error("{} is not valid TOML; fix it first: {error}", path.display())]
    NotToml { path: PathBuf, error: String },
    /// The component policy has an entry for the new tool already: it would
    /// be judged by that entry (a pin to other bytes, other imports).
    #[error(
        "{} already has an entry for `{key}` ([components.{key}] = {entry}): the new tool would \
         be judged by it; remove that entry or choose another name",
        path.display()
    )]
    AlreadyListed {
        path: PathBuf,
        key: String,
        entry: String,
    },
    /// The file could not be changed without breaking it or missing the
    /// place: nothing was written.
    #[error("cannot add {what} to {}: {why}; add it by hand", path.display())]
    CannotAdd {
        path: PathBuf,
        what: String,
        why: String,
    },
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

/// Python's keywords, soft keywords included (3.12: `type`).
const PY_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "_", "case", "match", "type",
];

/// Python's builtins that a component name can spell (`dir(builtins)`, the
/// lower-case ones; the rest start with a capital or `_`).
const PY_BUILTINS: &[&str] = &[
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "copyright",
    "credits",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "exit",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "license",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "quit",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
];

/// Module-level names the scaffold's app.py imports or defines, and the
/// helper's exports (`zava_tool.__all__`, what a tool imports next:
/// `query`, ...), read from the very texts `new-tool` writes.
fn py_scaffold_names() -> Vec<String> {
    let mut names = Vec::new();
    for line in PY_APP.lines() {
        if let Some((_, imported)) = line
            .strip_prefix("from ")
            .and_then(|l| l.split_once(" import "))
        {
            let imported = imported.split('#').next().unwrap_or_default();
            names.extend(imported.split(',').map(|n| n.trim().to_string()));
        }
        for keyword in ["class ", "def "] {
            if let Some(rest) = line.strip_prefix(keyword) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                names.push(name);
            }
        }
    }
    if let Some(all) = PY_HELPER.split("__all__ = [").nth(1) {
        let all = all.split(']').next().unwrap_or_default();
        names.extend(
            all.split(',')
                .map(|n| n.trim().trim_matches('"').to_string()),
        );
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Why `function` cannot be the name of the scaffold's Python function.
fn python_name_problem(function: &str) -> Option<String> {
    if PY_KEYWORDS.contains(&function) {
        Some("would be a Python keyword".into())
    } else if PY_BUILTINS.contains(&function) {
        Some(format!("would shadow Python's builtin `{function}`"))
    } else if py_scaffold_names().iter().any(|n| n == function) {
        Some(format!(
            "would shadow `{function}`, a name app.py imports or defines"
        ))
    } else {
        None
    }
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

/// A file to write once every check has passed.
type Edit = (PathBuf, String);

fn read_toml(path: &Path) -> Result<(String, toml::Table), ScaffoldError> {
    let text = std::fs::read_to_string(path).map_err(|e| ScaffoldError::Read(path.into(), e))?;
    let table = text
        .parse()
        .map_err(|e: toml::de::Error| ScaffoldError::NotToml {
            path: path.into(),
            error: e.to_string(),
        })?;
    Ok((text, table))
}

/// The `[workspace] members` of a parsed Cargo.toml, if it has them.
fn members(manifest: &toml::Table) -> Option<Vec<String>> {
    manifest
        .get("workspace")?
        .get("members")?
        .as_array()?
        .iter()
        .map(|m| m.as_str().map(str::to_string))
        .collect()
}

/// Refuses a Rust tool named like a package of the workspace (or its
/// library, `-` and `_` alike): cargo refuses a workspace with two packages
/// of one name (`cargo metadata` fails, so every build does), and two
/// libraries of one name overwrite each other's `.wasm`. Each member's
/// Cargo.toml is read (the root's own package too).
fn check_rust_name(root: &Path, name: &str) -> Result<(), ScaffoldError> {
    let manifest = root.join("Cargo.toml");
    let (_, workspace) = read_toml(&manifest)?;
    let mut manifests = vec![(manifest, workspace.clone())];
    for member in members(&workspace).unwrap_or_default() {
        // A glob names folders that exist; a missing manifest, nothing.
        let path = root.join(&member).join("Cargo.toml");
        if member.contains(['*', '?', '[']) || !path.is_file() {
            continue;
        }
        let (_, table) = read_toml(&path)?;
        manifests.push((path, table));
    }
    let same = |other: &str| other.replace('-', "_") == name.replace('-', "_");
    for (path, table) in manifests {
        let package = table.get("package").and_then(|p| p.get("name"));
        let lib = table.get("lib").and_then(|l| l.get("name"));
        for taken in [package, lib]
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
        {
            if same(taken) {
                return Err(ScaffoldError::RustPackage {
                    name: name.into(),
                    package: taken.into(),
                    manifest: path,
                });
            }
        }
    }
    // A dependency of that name: `-p NAME` names two packages. The
    // scaffold's own dependencies count even before a Cargo.lock lists them.
    let template: toml::Table = include_str!("../../components/template/Cargo.toml")
        .parse()
        .expect("the template's Cargo.toml is TOML");
    let mut dependencies: Vec<String> = template
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    let lock = root.join("Cargo.lock");
    if lock.is_file() {
        let (_, locked) = read_toml(&lock)?;
        let packages = locked.get("package").and_then(|p| p.as_array());
        dependencies.extend(
            packages
                .into_iter()
                .flatten()
                .filter_map(|p| p.get("name")?.as_str().map(str::to_string)),
        );
    }
    if dependencies.iter().any(|d| d == name) {
        return Err(ScaffoldError::RustDependency(name.into()));
    }
    Ok(())
}

/// Adds `components/NAME` to the workspace members (Rust only): members are
/// listed one by one (a glob would take Python and JavaScript folders too).
/// The line goes into the real `[workspace] members` array, as text (the
/// operator's comments stay); the result must parse with exactly that member
/// added, or nothing is written. `None`: it is listed already.
fn join_workspace(root: &Path, name: &str) -> Result<Option<Edit>, ScaffoldError> {
    let manifest = root.join("Cargo.toml");
    let (text, parsed) = read_toml(&manifest)?;
    let member = format!("components/{name}");
    let cannot = |why: &str| ScaffoldError::CannotAdd {
        path: manifest.clone(),
        what: format!("\"{member}\" to [workspace] members"),
        why: why.into(),
    };
    let Some(before) = members(&parsed) else {
        return Err(cannot(
            "it has no [workspace] members list (the scaffold builds as a workspace member)",
        ));
    };
    if before.contains(&member) {
        return Ok(None);
    }
    let line = format!("    \"{member}\",\n");
    let adds_the_member = |candidate: &str| {
        let Ok(mut updated) = candidate.parse::<toml::Table>() else {
            return false;
        };
        let Some(mut after) = members(&updated) else {
            return false;
        };
        let Some(at) = after.iter().position(|m| *m == member) else {
            return false;
        };
        after.remove(at);
        // Nothing else changed: with the old list back, it is the old file.
        let Some(workspace) = updated.get_mut("workspace").and_then(|w| w.as_table_mut()) else {
            return false;
        };
        workspace.insert(
            "members".into(),
            toml::Value::Array(before.iter().cloned().map(toml::Value::String).collect()),
        );
        after == before && updated == parsed
    };
    // Where `members = [` may open the array: try the end of the list (the
    // line of its closing bracket), then right after the bracket, and keep
    // the first text that parses with just the new member added.
    for (at, _) in text.match_indices("members") {
        let after = text[at + "members".len()..].trim_start_matches([' ', '\t']);
        let Some(after) = after.strip_prefix('=') else {
            continue;
        };
        let after = after.trim_start_matches([' ', '\t']);
        if !after.starts_with('[') {
            continue;
        }
        let open = text.len() - after.len() + 1;
        let mut candidates = Vec::new();
        if let Some(close) = text[open..]
            .match_indices('\n')
            .map(|(i, _)| open + i + 1)
            .find(|&line| {
                text[line..]
                    .trim_start_matches([' ', '\t'])
                    .starts_with(']')
            })
        {
            candidates.push(format!("{}{line}{}", &text[..close], &text[close..]));
        }
        candidates.push(format!(
            "{}\n{}{}",
            &text[..open],
            line.trim_end_matches('\n'),
            &text[open..]
        ));
        if let Some(updated) = candidates.into_iter().find(|c| adds_the_member(c)) {
            return Ok(Some((manifest, updated)));
        }
    }
    Err(cannot("no place in it where the line keeps the file valid"))
}

/// Lists the new component in the component policy (once a policy exists,
/// an unlisted component is refused), with no imports: the author adds
/// `"database"` when the tool queries. Whether it is listed already is
/// what the policy says when parsed (a commented-out table is not an entry;
/// `[components."key"]` and dotted keys are); an existing entry is refused,
/// not silently reused. The table is appended as text (the operator's
/// comments stay) and the result must parse. `None`: there is no policy.
fn join_policy(root: &Path, name: &str) -> Result<Option<Edit>, ScaffoldError> {
    let path = root.join("components/policy.toml");
    let (mut text, parsed) = match read_toml(&path) {
        Err(ScaffoldError::Read(_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(None);
        }
        other => other?,
    };
    let key = name.replace('-', "_");
    if let Some(entry) = parsed.get("components").and_then(|c| c.get(&key)) {
        return Err(ScaffoldError::AlreadyListed {
            path,
            key,
            entry: entry.to_string(),
        });
    }
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Added by `mcp-host new-tool`; grant \"database\" if it queries as the caller.\n\
         [components.{key}]\nimports = []\n"
    ));
    let added = match text.parse::<toml::Table>() {
        Ok(updated) => updated
            .get("components")
            .and_then(|c| c.get(&key))
            .and_then(|entry| entry.get("imports"))
            .and_then(|imports| imports.as_array())
            .is_some_and(|imports| imports.is_empty()),
        Err(_) => false,
    };
    if !added {
        return Err(ScaffoldError::CannotAdd {
            path,
            what: format!("[components.{key}]"),
            why: "appending the table would not give a valid policy with it (is `components` \
                  an inline table?)"
                .into(),
        });
    }
    Ok(Some((path, text)))
}

/// Writes the scaffold; returns its folder. Everything is checked first
/// (the name, the folder, the workspace and policy edits): a refusal leaves
/// the project as it was.
pub fn run(args: &NewToolArgs) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(&args.name) {
        return Err(ScaffoldError::BadName(args.name.clone()));
    }
    // JavaScript needs no such check: the name is only a string there
    // (`name: '...'`), never an identifier.
    let function = args.name.replace('-', "_");
    if args.lang == Lang::Python
        && let Some(why) = python_name_problem(&function)
    {
        return Err(ScaffoldError::PythonName {
            name: args.name.clone(),
            function,
            why,
        });
    }
    let start = match &args.root {
        Some(root) => root.clone(),
        None => std::env::current_dir().map_err(|e| ScaffoldError::Read(".".into(), e))?,
    };
    let root = project_root(&start).ok_or(ScaffoldError::NoProject(start))?;
    let dir = root.join("components").join(&args.name);
    if dir.exists() {
        return Err(ScaffoldError::Exists(dir));
    }
    let mut edits = Vec::new();
    if args.lang == Lang::Rust {
        check_rust_name(&root, &args.name)?;
        edits.extend(join_workspace(&root, &args.name)?);
    }
    edits.extend(join_policy(&root, &args.name)?);
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
    for (path, text) in edits {
        std::fs::write(&path, text).map_err(|e| ScaffoldError::Write(path, e))?;
    }
    Ok(dir)
}

/// What to do next, for the terminal.
/// What to do next; `listed`: the project has a policy file, which now
/// lists the tool.
pub fn next_steps(lang: Lang, name: &str, listed: bool) -> String {
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
    let policy = if listed {
        ", listed in components/policy.toml"
    } else {
        " (no components/policy.toml: every component loads with every import)"
    };
    format!(
        "created components/{name} (tool `{file}`){policy}\n\
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

    /// A throwaway project: the WIT marker, a workspace, a policy.
    fn project(workspace: &str, policy: Option<&str>) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("wit")).unwrap();
        std::fs::write(root.path().join("wit/zava-mcp.wit"), "").unwrap();
        std::fs::create_dir(root.path().join("components")).unwrap();
        std::fs::write(root.path().join("Cargo.toml"), workspace).unwrap();
        if let Some(policy) = policy {
            std::fs::write(root.path().join("components/policy.toml"), policy).unwrap();
        }
        root
    }

    fn new_tool(root: &Path, lang: Lang, name: &str) -> Result<PathBuf, ScaffoldError> {
        run(&NewToolArgs {
            name: name.into(),
            lang,
            root: Some(root.to_path_buf()),
        })
    }

    const WORKSPACE: &str = "[workspace]\nresolver = \"3\"\nmembers = [\n]\n";

    fn repo() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn python_names_that_break_app_py_are_refused() {
        for bad in [
            "import",
            "class",
            "def",
            "lambda",
            "match",
            "case",
            "type",
            "str",
            "print",
            "list",
            "id",
            "scope",
            "log",
            "query",
            "tool",
            "dataclass",
            "json-schema",
        ] {
            let function = bad.replace('-', "_");
            let refused = python_name_problem(&function);
            assert!(refused.is_some(), "{bad}");
            let root = project(WORKSPACE, Some(""));
            let error = new_tool(root.path(), Lang::Python, bad).unwrap_err();
            assert!(
                matches!(error, ScaffoldError::PythonName { .. }),
                "{bad}: {error}"
            );
            assert!(
                error.to_string().contains(&format!("`{function}`")),
                "{error}"
            );
            assert!(!root.path().join("components").join(bad).exists(), "{bad}");
            assert_eq!(
                std::fs::read_to_string(root.path().join("components/policy.toml")).unwrap(),
                "",
                "{bad}: the policy is untouched"
            );
        }
        // `none` is not `None`; names that only contain a keyword are fine.
        for fine in [
            "my-tool",
            "none",
            "import-orders",
            "class-list",
            "logs",
            "scoped",
            "matcher",
        ] {
            assert_eq!(python_name_problem(&fine.replace('-', "_")), None, "{fine}");
        }
        let keyword = python_name_problem("import").unwrap();
        assert!(keyword.contains("keyword"), "{keyword}");
    }

    /// The names app.py and the helper define are read from their texts,
    /// and every one is reserved.
    #[test]
    fn every_name_app_py_and_zava_tool_define_is_reserved() {
        let names = py_scaffold_names();
        assert!(names.len() > 10, "{names:?}");
        for expected in [
            "dataclass",
            "Annotated",
            "Greeting",
            "Arg",
            "Tool",
            "log",
            "scope",
            "query",
            "tool",
            "json_schema",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
        }
        for name in names {
            assert!(python_name_problem(&name).is_some(), "{name}");
        }
    }

    /// JavaScript takes the tool's name as a string only, so any valid
    /// name works, reserved words included.
    #[test]
    fn a_javascript_tool_name_is_only_ever_a_string() {
        for line in JS_INDEX.lines().filter(|l| l.contains("{{tool}}")) {
            assert!(
                line.trim_start().starts_with("//") || line.contains("'{{tool}}'"),
                "{line}"
            );
        }
        let root = project(WORKSPACE, None);
        new_tool(root.path(), Lang::Js, "class").unwrap();
        let index = std::fs::read_to_string(root.path().join("components/class/index.js")).unwrap();
        assert!(index.contains("name: 'class',"), "{index}");
    }

    #[test]
    fn a_rust_tool_cannot_take_a_workspace_package_name() {
        // Every member of this repository's workspace, by package name.
        let manifest = repo().join("Cargo.toml");
        let (_, workspace) = read_toml(&manifest).unwrap();
        let mut packages = Vec::new();
        for member in members(&workspace).unwrap() {
            let path = repo().join(member).join("Cargo.toml");
            if !path.is_file() {
                continue;
            }
            let (_, table) = read_toml(&path).unwrap();
            packages.push(table["package"]["name"].as_str().unwrap().to_string());
        }
        for expected in [
            "zava-tool",
            "mcp-host",
            "zava-load",
            "tool-template",
            "fixture-probe",
        ] {
            assert!(
                packages.iter().any(|p| p == expected),
                "{expected} in {packages:?}"
            );
        }
        for package in &packages {
            let error = check_rust_name(repo(), package).unwrap_err();
            assert!(
                error.to_string().contains(&format!("named `{package}`")),
                "{error}"
            );
        }
        check_rust_name(repo(), "my-new-tool").unwrap();
        // Crates it depends on: `-p NAME` would be ambiguous.
        for crate_name in ["serde", "schemars", "tokio", "wasmtime"] {
            let error = check_rust_name(repo(), crate_name).unwrap_err();
            assert!(
                matches!(error, ScaffoldError::RustDependency(_)),
                "{crate_name}: {error}"
            );
        }

        // In a project: refused before anything is written.
        let root = project(
            "[workspace]\nmembers = [\n    \"sdk/rust\",\n    \"lib\",\n]\n",
            Some(""),
        );
        for (dir, manifest) in [
            ("sdk/rust", "[package]\nname = \"zava-tool\"\n"),
            (
                "lib",
                "[package]\nname = \"other\"\n[lib]\nname = \"my_lib\"\n",
            ),
        ] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
            std::fs::write(root.path().join(dir).join("Cargo.toml"), manifest).unwrap();
        }
        let before = std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap();
        for taken in ["zava-tool", "my-lib", "other"] {
            let error = new_tool(root.path(), Lang::Rust, taken).unwrap_err();
            assert!(
                matches!(error, ScaffoldError::RustPackage { .. }),
                "{error}"
            );
            assert!(!root.path().join("components").join(taken).exists());
        }
        assert_eq!(
            std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap(),
            before
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("components/policy.toml")).unwrap(),
            ""
        );
        // The same names are fine in Python or JavaScript (no package).
        new_tool(root.path(), Lang::Js, "zava-tool").unwrap();
    }

    fn policy_after(policy: &str) -> Result<String, ScaffoldError> {
        let root = project(WORKSPACE, Some(policy));
        let edit = join_policy(root.path(), "my-tool")?;
        Ok(edit.expect("a policy to edit").1)
    }

    fn entry(policy: &str, key: &str) -> Option<toml::Value> {
        let parsed: toml::Table = policy.parse().unwrap();
        parsed.get("components")?.get(key).cloned()
    }

    #[test]
    fn the_policy_is_read_as_toml_to_list_the_tool() {
        // A commented-out table is no entry: the real one is added, the
        // comments stay.
        let commented =
            "# [components.my_tool]\n# imports = [\"database\"]\n\n[components.other]\n";
        let updated = policy_after(commented).unwrap();
        assert!(updated.starts_with(commented), "{updated}");
        let added = entry(&updated, "my_tool").unwrap();
        assert_eq!(added["imports"].as_array().unwrap().len(), 0);
        assert!(entry(&updated, "other").is_some());
        // Dotted keys under [components] for another tool: a table after them
        // still parses.
        let dotted = "[components]\nother.imports = [\"database\"]\nthird.memory_mib = 8";
        let updated = policy_after(dotted).unwrap();
        assert!(entry(&updated, "my_tool").is_some());
        assert!(entry(&updated, "other").is_some() && entry(&updated, "third").is_some());
        // An empty policy (deny all) gets its first entry.
        assert!(entry(&policy_after("").unwrap(), "my_tool").is_some());

        // An entry already there, however it is written, is refused and named.
        for (listed, shows) in [
            (
                "[components.my_tool]\nimports = [\"database\"]\n",
                "database",
            ),
            (
                "[components]\nmy_tool.imports = [\"embeddings\"]\n",
                "embeddings",
            ),
            (
                "[components.\"my_tool\"]\nsha256 = \"9f2c000000000000000000000000000000000000000000000000000000000000\"\n",
                "sha256 = \"9f2c",
            ),
            (
                "components = { my_tool = { memory_mib = 8 } }\n",
                "memory_mib = 8",
            ),
        ] {
            let error = policy_after(listed).unwrap_err();
            assert!(
                matches!(error, ScaffoldError::AlreadyListed { .. }),
                "{listed}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains("[components.my_tool]") && message.contains(shows),
                "{message}"
            );
        }
        // An inline `components` table cannot take a [components.x] table.
        let error = policy_after("components = { other = {} }\n").unwrap_err();
        assert!(matches!(error, ScaffoldError::CannotAdd { .. }), "{error}");
        // Not TOML: refused, not appended to.
        let error = policy_after("[components.other\n").unwrap_err();
        assert!(matches!(error, ScaffoldError::NotToml { .. }), "{error}");
        // No policy: nothing to list it in.
        let root = project(WORKSPACE, None);
        assert!(join_policy(root.path(), "my-tool").unwrap().is_none());
    }

    #[test]
    fn a_refused_policy_entry_leaves_the_project_as_it_was() {
        let policy = "[components.my_tool]\nimports = [\"database\"]\n";
        let root = project(WORKSPACE, Some(policy));
        let error = new_tool(root.path(), Lang::Rust, "my-tool").unwrap_err();
        assert!(
            matches!(error, ScaffoldError::AlreadyListed { .. }),
            "{error}"
        );
        assert!(!root.path().join("components/my-tool").exists());
        assert_eq!(
            std::fs::read_to_string(root.path().join("Cargo.toml")).unwrap(),
            WORKSPACE
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("components/policy.toml")).unwrap(),
            policy
        );
    }

    fn workspace_after(manifest: &str) -> Result<Option<String>, ScaffoldError> {
        let root = project(manifest, None);
        Ok(join_workspace(root.path(), "my-tool")?.map(|(_, text)| text))
    }

    fn members_of(manifest: &str) -> Vec<String> {
        members(&manifest.parse().unwrap()).unwrap()
    }

    #[test]
    fn the_member_goes_into_the_real_workspace_members() {
        // The repository's own manifest: the line goes at the end of the
        // list, nothing else changes.
        let ours = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
        let updated = workspace_after(&ours).unwrap().unwrap();
        let mut expected = members_of(&ours);
        expected.push("components/my-tool".into());
        assert_eq!(members_of(&updated), expected);
        assert_eq!(
            updated.len(),
            ours.len() + "    \"components/my-tool\",\n".len()
        );

        // Decoys: a commented-out list, another table's `members`,
        // `default-members`; the last member without a trailing comma; the
        // whole list on one line.
        for manifest in [
            "# members = [\n#     \"old\",\n# ]\n[package.metadata.team]\nmembers = [\n    \"ann\",\n]\n\n\
             [workspace]\ndefault-members = [\n    \"host\",\n]\nmembers = [\n    \"host\"\n]\n",
            "[workspace]\nmembers = [\"host\", \"sdk/rust\"]  # all of them\n",
            "[workspace]\nmembers=[]\n",
            "[workspace.dependencies]\nserde = \"1\"\n[workspace]\nresolver = \"3\"\nmembers = [ # listed one by one\n    \"host\", # the host\n]\n",
        ] {
            let updated = workspace_after(manifest).unwrap().unwrap();
            let mut expected = members_of(manifest);
            expected.push("components/my-tool".into());
            let mut got = members_of(&updated);
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "{manifest}\n->\n{updated}");
            let (before, after): (toml::Table, toml::Table) =
                (manifest.parse().unwrap(), updated.parse().unwrap());
            assert_eq!(before.get("package"), after.get("package"), "{updated}");
            assert_eq!(
                before["workspace"].get("default-members"),
                after["workspace"].get("default-members")
            );
            for (_, comment) in manifest.lines().filter_map(|l| l.split_once('#')) {
                assert!(updated.contains(comment), "{comment} kept in {updated}");
            }
        }

        // Listed already: no change.
        let listed = "[workspace]\nmembers = [\"components/my-tool\"]\n";
        assert_eq!(workspace_after(listed).unwrap(), None);
        // No workspace members to add to: refused, not ignored.
        for manifest in [
            "[package]\nname = \"x\"\n",
            "[workspace]\n",
            "# [workspace]\n# members = [\n# ]\n",
        ] {
            let error = workspace_after(manifest).unwrap_err();
            assert!(
                matches!(error, ScaffoldError::CannotAdd { .. }),
                "{manifest}: {error}"
            );
        }
        let error = workspace_after("[workspace\nmembers = [\n]\n").unwrap_err();
        assert!(matches!(error, ScaffoldError::NotToml { .. }), "{error}");
    }
}
