//! `mcp-host check-component FILE.wasm`: loads a component offline exactly
//! as `serve` would (same engine, contract check, linking, discovery and
//! validation, no database or network), and says what it offers, what it
//! imports and what the component policy would grant it. A component
//! `serve` would refuse is refused here with the same reason, word for word.

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
use crate::runtime::loader::{LoadedComponent, Loader};
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
        tokio::task::spawn_blocking(move || ComponentFile::read(&path)).await??
    };
    let engine = engine::build(&limits).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    // The contract and the declarations are judged under an open policy, so
    // that a policy refusal does not hide a broken component; the policy is
    // judged after, as `serve` would.
    let sandbox = Arc::new(Sandbox::new(Capabilities::default()));
    // No disk cache: a check compiles afresh and leaves nothing behind.
    let cache = CompiledCache::new(None, &engine);
    let loader = Loader::new(engine, cache, sandbox, Policy::open(ceilings))
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    let digest = file.digest.clone();
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let loaded = match loader.load(&args.file, file).await {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("component rejected: {error}");
            return Ok(false);
        }
    };
    let judged = policy.as_ref().map(|p| p.grant(&name, &digest));
    let report = report(
        &loaded,
        judged
            .as_ref()
            .map(|r| r.as_ref().map_err(|e| e.to_string())),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    match judged {
        Some(Err(error)) => {
            eprintln!("component rejected: {error}");
            Ok(false)
        }
        _ => Ok(true),
    }
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

fn report(loaded: &LoadedComponent, judged: Option<Result<&Grant, String>>) -> Value {
    let imports = imports(loaded);
    let needed = needs(&imports);
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

/// The report as text for a terminal.
fn render(report: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    out.push_str(&format!(
        "{}  {}\n  contract  {}\n  sha256    {}\n",
        s(&report["file"]),
        "ok: serve would load it",
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
        out.push_str(&format!("    input  {}\n", tool["inputSchema"]));
        if !tool["outputSchema"].is_null() {
            out.push_str(&format!("    output {}\n", tool["outputSchema"]));
        }
        if let Some(app) = tool["_meta"]["ui"]["resourceUri"].as_str() {
            out.push_str(&format!("    app    {app}\n"));
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
            resource["mimeType"].as_str().unwrap_or("no MIME type")
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
        out.push_str(&format!("  policy    REFUSED: {refusal}\n"));
    } else if let Some(everything) = policy["grant"].as_str() {
        out.push_str(&format!("  policy    {everything}\n"));
    } else {
        out.push_str(&format!(
            "  policy    imports {}, deadline {} ms, memory {} MiB, rows {}\n",
            policy["imports"], policy["deadline_ms"], policy["memory_mib"], policy["max_rows"]
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
