//! Checks that a component speaks one of this host's WIT contracts before it
//! is linked, and finds out what it offers, so a mismatch gets a message
//! naming versions rather than a linker error about some function.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::{WIT_PACKAGE, WIT_VERSION, WIT_VERSIONS};

/// The contract versions this host speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `zava:mcp@0.1.0`: tools only, text results.
    V1,
    /// `zava:mcp@0.2.0`: tools, prompts, resources, content blocks.
    V2,
}

impl Version {
    fn parse(version: &str) -> Option<Self> {
        match version {
            "0.1.0" => Some(Self::V1),
            WIT_VERSION => Some(Self::V2),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "0.1.0",
            Self::V2 => WIT_VERSION,
        }
    }
}

/// What a component offers, by the interfaces it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    pub version: Version,
    pub tools: bool,
    pub prompts: bool,
    pub resources: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    #[error(
        "it was built against {WIT_PACKAGE}@{found}, but this host speaks {}; rebuild it against wit/ of this host",
        speaks()
    )]
    WrongVersion { found: String },
    #[error("it mixes {WIT_PACKAGE} versions ({0} and {1}); build it against one version of wit/")]
    MixedVersions(String, String),
    #[error(
        "it exports none of `{WIT_PACKAGE}/tool`, `prompts` or `resources` (at {}); is it a component for this host (e.g. world `tool-component`)?",
        speaks()
    )]
    NotATool,
    #[error("it imports `{0}`, which this host does not provide to components")]
    UnknownImport(String),
}

/// "zava:mcp@0.2.0 and zava:mcp@0.1.0".
fn speaks() -> String {
    WIT_VERSIONS
        .iter()
        .map(|v| format!("{WIT_PACKAGE}@{v}"))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Splits `ns:pkg/iface@ver` into (`ns:pkg`, `iface`, `ver`).
fn parse(name: &str) -> Option<(&str, &str, Option<&str>)> {
    let (package, rest) = name.split_once('/')?;
    match rest.split_once('@') {
        Some((iface, version)) => Some((package, iface, Some(version))),
        None => Some((package, rest, None)),
    }
}

/// Imports outside our package are allowed only from WASI; the ones we do not
/// link become traps (see `capabilities::wasi`).
fn import_allowed(package: &str) -> bool {
    package == WIT_PACKAGE || package.starts_with("wasi:")
}

/// The one contract version every `zava:mcp` name of the component uses.
fn settle(seen: &mut Option<String>, version: Option<&str>) -> Result<Version, ContractError> {
    let version = version.unwrap_or("(unversioned)");
    if let Some(first) = seen.as_deref()
        && first != version
    {
        return Err(ContractError::MixedVersions(first.into(), version.into()));
    }
    *seen = Some(version.to_string());
    Version::parse(version).ok_or_else(|| ContractError::WrongVersion {
        found: version.to_string(),
    })
}

pub fn check(engine: &Engine, component: &Component) -> Result<Offer, ContractError> {
    let ty = component.component_type();
    let mut seen = None;
    let mut offer = Offer {
        version: Version::V2,
        tools: false,
        prompts: false,
        resources: false,
    };
    for (name, _) in ty.exports(engine) {
        let Some((WIT_PACKAGE, interface, version)) = parse(name) else {
            continue;
        };
        offer.version = settle(&mut seen, version)?;
        match interface {
            "tool" => offer.tools = true,
            "prompts" => offer.prompts = true,
            "resources" => offer.resources = true,
            _ => {}
        }
    }
    // 0.1 knew tools only; in 0.2 any one of the three makes a component.
    let offers_something = match offer.version {
        Version::V1 => offer.tools,
        Version::V2 => offer.tools || offer.prompts || offer.resources,
    };
    if !offers_something {
        return Err(ContractError::NotATool);
    }
    for (name, _) in ty.imports(engine) {
        let Some((package, _, version)) = parse(name) else {
            return Err(ContractError::UnknownImport(name.to_string()));
        };
        if !import_allowed(package) {
            return Err(ContractError::UnknownImport(name.to_string()));
        }
        if package == WIT_PACKAGE {
            settle(&mut seen, version)?;
        }
    }
    Ok(offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_interface_names() {
        assert_eq!(
            parse("zava:mcp/tool@0.1.0"),
            Some(("zava:mcp", "tool", Some("0.1.0")))
        );
        assert_eq!(parse("wasi:io/streams"), Some(("wasi:io", "streams", None)));
        assert_eq!(parse("bare"), None);
    }

    #[test]
    fn only_our_package_and_wasi_may_be_imported() {
        assert!(import_allowed("zava:mcp"));
        assert!(import_allowed("wasi:filesystem"));
        assert!(!import_allowed("acme:secrets"));
    }

    #[test]
    fn one_version_per_component() {
        let mut seen = None;
        assert_eq!(settle(&mut seen, Some("0.1.0")), Ok(Version::V1));
        assert_eq!(
            settle(&mut seen, Some("0.2.0")),
            Err(ContractError::MixedVersions("0.1.0".into(), "0.2.0".into()))
        );
        let mut seen = None;
        assert_eq!(
            settle(&mut seen, Some("9.0.0")).unwrap_err().to_string(),
            "it was built against zava:mcp@9.0.0, but this host speaks zava:mcp@0.2.0 and \
             zava:mcp@0.1.0; rebuild it against wit/ of this host"
        );
    }
}
