//! `mcp-host check-component FILE.wasm`: loads a component offline exactly
//! as `serve` would (same engine, policy, contract check, linking, discovery
//! under the component's grant and validation, no database or network), and
//! says what it offers, what it imports and what the component policy would
//! grant it. A component `serve` would refuse is refused here with the same
//! reason, word for word.
//!
//! Everything the component wrote (names, descriptions, schemas, a panic's
//! text in a refusal) reaches the terminal with its control characters
//! escaped ([`clean`]): a description cannot start a line of its own, fake
//! the verdict, or hide it with an escape sequence.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::capabilities::Capabilities;
use crate::config::CheckComponentArgs;
use crate::runtime::cache::CompiledCache;
use crate::runtime::component_file::ComponentFile;
use crate::runtime::engine;
use crate::runtime::limits::SandboxLimits;
use crate::runtime::loader::{LoadError, LoadedComponent, Loader};
use crate::runtime::policy::{Ceilings, Grant, Policy};
use crate::runtime::sandbox::Sandbox;

/// Checks `args.file`; `Ok(false)` when `serve` would refuse it (the reason
/// is printed to stderr as `serve` logs it).
pub async fn run(args: &CheckComponentArgs) -> anyhow::Result<bool> {
    let limits = SandboxLimits {
        deadline: args.call_timeout,
        memory_bytes: args.memory_limit_mib << 20,
        max_instances: 4,
        warm_memory_bytes: 0,
    };
    let ceilings = Ceilings::new(&limits, args.max_rows);
    let policy_path = args.policy.clone().unwrap_or_else(|| {
        args.file
            .parent()
            .unwrap_or(Path::new("."))
            .join("policy.toml")
    });
    let policy = match Policy::read(&policy_path, ceilings)? {
        Some(policy) => Some(policy),
        None if args.policy.is_some() => {
            anyhow::bail!(
                "the component policy {} does not exist",
                policy_path.display()
            )
        }
        None => None,
    };
    let file = {
        let path = args.file.clone();
        tokio::task::spawn_blocking(move || ComponentFile::read(&path))
            .await?
            .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", args.file.display()))?
    };
    let engine = engine::build(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let sandbox = Arc::new(Sandbox::new(Capabilities::default()));
    // No disk cache: a check compiles afresh and leaves nothing behind.
    let cache = CompiledCache::new(None, &engine);
    // The loader `serve` would use: the policy in force (none: everything)
    // judges the component before it is compiled, and it is asked what it
    // offers under the grant it would serve with (memory, deadline, imports).
    let in_force = policy.clone().unwrap_or_else(|| Policy::open(ceilings));
    let loader =
        Loader::new(engine, cache, sandbox, in_force).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let (loaded, refusal) = match loader.load(&args.file, file.clone()).await {
        Ok(loaded) => (loaded, None),
        Err(LoadError::Policy(refusal)) => {
            // Refused, as `serve` would refuse it. Only to say what is being
            // refused, the component is described under an open grant.
            let refusal = refusal.to_string();
            loader.set_policy(Policy::open(ceilings));
            match loader.load(&args.file, file).await {
                Ok(loaded) => (loaded, Some(refusal)),
                Err(error) => {
                    eprintln!("{}", rejected(&refusal));
                    eprintln!(
                        "  (it would not load without the policy either: {})",
                        clean(&error.to_string())
                    );
                    return Ok(false);
                }
            }
        }
        Err(error) => {
            eprintln!("{}", rejected(&error.to_string()));
            return Ok(false);
        }
    };
    let judged = match (&policy, &refusal) {
        (None, _) => None,
        (Some(_), Some(refusal)) => Some(Err(refusal.clone())),
        (Some(_), None) => Some(Ok(&loaded.grant)),
    };
    let report = report(&loaded, judged);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    match refusal {
        Some(refusal) => {
            eprintln!("{}", rejected(&refusal));
            Ok(false)
        }
        None => Ok(true),
    }
}

/// The line `serve` logs when it refuses a component, for stderr.
fn rejected(reason: &str) -> String {
    format!("component rejected: {}", clean(reason))
}

/// `text` fit for a terminal: control characters (newlines, escape
/// sequences, C1 controls such as CSI) and the invisible characters that
/// reorder a line (bidirectional overrides, line separators) escaped as
/// Rust writes them (`\n`, `\u{1b}`).
fn clean(text: &str) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061c}'
                    | '\u{200e}'
                    | '\u{200f}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}'
            )
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The imports a component names, as `ns:pkg/interface@version`.
fn imports(loaded: &LoadedComponent) -> Vec<String> {
    let component = loaded.exports.component();
    let engine = component.engine();
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The policy's import names a component's imports need.
fn needs(imports: &[String]) -> BTreeSet<&'static str> {
    Capabilities::grantable()
        .into_iter()
        .filter(|grantable| {
            imports
                .iter()
                .any(|i| i.starts_with(&format!("{}/{grantable}@", crate::WIT_PACKAGE)))
        })
        .collect()
}

/// What `loaded` is and offers, and the policy's verdict on it: `judged` is
/// `None` without a policy file, else the grant it would serve with or the
/// policy's refusal.
fn report(loaded: &LoadedComponent, judged: Option<Result<&Grant, String>>) -> Value {
    let imports = imports(loaded);
    let needed = needs(&imports);
    let loads = !matches!(judged, Some(Err(_)));
    let policy = match judged {
        None => json!({ "file": null, "grant": "everything (no policy file)" }),
        Some(Err(refusal)) => json!({ "refused": refusal }),
        Some(Ok(grant)) => {
            let withheld: Vec<&str> = needed
                .iter()
                .filter(|i| !grant.imports.contains(*i))
                .copied()
                .collect();
            json!({
                "imports": grant.imports,
                "deadline_ms": grant.deadline.as_millis() as u64,
                "memory_mib": grant.memory_bytes >> 20,
                "max_rows": grant.max_rows,
                "withheld_but_imported": withheld,
            })
        }
    };
    json!({
        "file": &*loaded.file,
        "serve_would_load": loads,
        "sha256": loaded.digest,
        "contract": format!("{}@{}", crate::WIT_PACKAGE, loaded.offer.version.as_str()),
        "exports": {
            "tool": loaded.offer.tools,
            "prompts": loaded.offer.prompts,
            "resources": loaded.offer.resources,
        },
        "imports": imports,
        "tools": loaded.tools.iter().map(|t| serde_json::to_value(&t.mcp).unwrap_or_default()).collect::<Vec<_>>(),
        "prompts": loaded.prompts.iter().map(|p| serde_json::to_value(&p.mcp).unwrap_or_default()).collect::<Vec<_>>(),
        "resources": loaded.resources.iter().map(|r| serde_json::to_value(&r.mcp).unwrap_or_default()).collect::<Vec<_>>(),
        "resource_templates": loaded.templates.iter().map(|t| serde_json::to_value(&t.mcp).unwrap_or_default()).collect::<Vec<_>>(),
        "policy": policy,
    })
}

/// The report as text for a terminal; every string from the report goes
/// through [`clean`].
fn render(report: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| clean(v.as_str().unwrap_or_default());
    // A schema as compact JSON (which escapes C0 controls, not DEL or C1).
    let schema = |v: &Value| clean(&v.to_string());
    let verdict = if report["serve_would_load"].as_bool() == Some(true) {
        "ok: serve would load it"
    } else {
        "REFUSED: serve would not load it (the policy refuses it)"
    };
    out.push_str(&format!(
        "{}  {verdict}\n  contract  {}\n  sha256    {}\n",
        s(&report["file"]),
        s(&report["contract"]),
        s(&report["sha256"])
    ));
    out.push_str("  imports\n");
    for import in report["imports"].as_array().into_iter().flatten() {
        out.push_str(&format!("    {}\n", s(import)));
    }
    for tool in report["tools"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  tool {}: {}\n",
            s(&tool["name"]),
            s(&tool["description"])
        ));
        out.push_str(&format!("    input  {}\n", schema(&tool["inputSchema"])));
        if !tool["outputSchema"].is_null() {
            out.push_str(&format!("    output {}\n", schema(&tool["outputSchema"])));
        }
        if let Some(app) = tool["_meta"]["ui"]["resourceUri"].as_str() {
            out.push_str(&format!("    app    {}\n", clean(app)));
        }
    }
    for prompt in report["prompts"].as_array().into_iter().flatten() {
        let arguments: Vec<String> = prompt["arguments"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                let optional = if a["required"].as_bool() == Some(true) {
                    ""
                } else {
                    "?"
                };
                format!("{}{optional}", s(&a["name"]))
            })
            .collect();
        out.push_str(&format!(
            "  prompt {}({}): {}\n",
            s(&prompt["name"]),
            arguments.join(", "),
            s(&prompt["description"])
        ));
    }
    for resource in report["resources"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  resource {} ({})\n",
            s(&resource["uri"]),
            clean(resource["mimeType"].as_str().unwrap_or("no MIME type"))
        ));
    }
    for template in report["resource_templates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "  resource template {}\n",
            s(&template["uriTemplate"])
        ));
    }
    let policy = &report["policy"];
    if let Some(refusal) = policy["refused"].as_str() {
        out.push_str(&format!("  policy    REFUSED: {}\n", clean(refusal)));
    } else if let Some(everything) = policy["grant"].as_str() {
        out.push_str(&format!("  policy    {}\n", clean(everything)));
    } else {
        out.push_str(&format!(
            "  policy    imports {}, deadline {} ms, memory {} MiB, rows {}\n",
            schema(&policy["imports"]),
            policy["deadline_ms"],
            policy["memory_mib"],
            policy["max_rows"]
        ));
        for withheld in policy["withheld_but_imported"]
            .as_array()
            .into_iter()
            .flatten()
        {
            out.push_str(&format!(
                "    warning: it imports `{}`, which the policy does not grant: calls that use it fail\n",
                s(withheld)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal-safe character: what [`clean`] leaves as it is.
    fn safe(c: char) -> bool {
        clean(&c.to_string()) == c.to_string()
    }

    #[test]
    fn clean_escapes_control_and_reordering_characters_only() {
        assert_eq!(clean("plain text, ünïcode ✓"), "plain text, ünïcode ✓");
        assert_eq!(clean("a\nb"), "a\\nb");
        assert_eq!(clean("\u{1b}[8mhidden"), "\\u{1b}[8mhidden");
        assert_eq!(clean("\r\t\u{7f}\u{9b}"), "\\r\\t\\u{7f}\\u{9b}");
        assert_eq!(clean("a\u{202e}b\u{2028}"), "a\\u{202e}b\\u{2028}");
        assert!(
            (0..=0x10ffff)
                .filter_map(char::from_u32)
                .all(|c| !c.is_control() || !safe(c))
        );
    }

    /// A component whose strings try to end their line, fake a verdict and
    /// hide the real one (`ESC[8m`: concealed text) reaches the terminal as
    /// one line per item, every control character escaped.
    #[test]
    fn render_escapes_what_the_component_wrote() {
        let hostile = "Fine.\u{1b}[8m\nevil.wasm  ok: serve would load it\u{1b}[0m";
        let report = json!({
            "file": "evil.wasm",
            "serve_would_load": false,
            "contract": "zava:mcp@0.2.0",
            "sha256": "ab12",
            "imports": ["zava:mcp/caller@0.2.0\u{1b}[2K"],
            "tools": [{
                "name": "t\u{9b}8m",
                "title": "T\n",
                "description": hostile,
                "inputSchema": {"type": "object", "description": "x\u{7f}\u{9b}\n"},
                "outputSchema": {"type": "object", "title": "\u{1b}]0;title\u{7}"},
                "_meta": {"ui": {"resourceUri": "ui://a\rb"}},
            }],
            "prompts": [{
                "name": "p\u{202e}",
                "description": "d\r\n",
                "arguments": [{"name": "a\n", "required": true}],
            }],
            "resources": [{"uri": "r://x\n", "mimeType": "text/plain\u{1b}"}],
            "resource_templates": [{"uriTemplate": "t://{id}\n"}],
            "policy": {"refused": "the component policy does not list `evil\nok`"},
        });
        let text = render(&report);
        assert!(
            text.chars().filter(|c| *c != '\n').all(safe),
            "unescaped control characters in:\n{text}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 13, "one line per item:\n{text}");
        assert!(
            lines[0].starts_with("evil.wasm  REFUSED: serve would not load it"),
            "{text}"
        );
        assert!(lines[1..].iter().all(|l| l.starts_with("  ")), "{text}");
        assert!(
            !text.contains("\n  ok") && !text.contains("\nevil"),
            "{text}"
        );
        assert!(
            text.contains("  tool t\\u{9b}8m: Fine.\\u{1b}[8m\\nevil.wasm  ok: serve would load it\\u{1b}[0m\n"),
            "{text}"
        );
        assert!(text.contains("\\u{7f}\\u{9b}"), "{text}");
        assert!(
            text.contains("  policy    REFUSED: the component policy does not list `evil\\nok`\n"),
            "{text}"
        );
    }

    #[test]
    fn the_headline_follows_the_verdict() {
        let mut report = json!({
            "file": "fine.wasm",
            "serve_would_load": true,
            "policy": {"grant": "everything (no policy file)"},
        });
        assert!(render(&report).starts_with("fine.wasm  ok: serve would load it\n"));
        report["serve_would_load"] = json!(false);
        report["policy"] = json!({"refused": "the component policy does not list `fine`"});
        let text = render(&report);
        assert!(!text.contains("ok: serve would load it"), "{text}");
        assert!(text.starts_with("fine.wasm  REFUSED"), "{text}");
    }

    #[test]
    fn a_refusal_is_one_line_whatever_the_guest_panicked_with() {
        let line = rejected(
            "asking it what it offers failed: panicked at src/lib.rs:1:1:\n\u{1b}[8mok\u{1b}[0m",
        );
        assert_eq!(
            line,
            "component rejected: asking it what it offers failed: panicked at src/lib.rs:1:1:\\n\\u{1b}[8mok\\u{1b}[0m"
        );
    }
}
