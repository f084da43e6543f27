//! Checks that a component speaks this host's WIT contract before it is
//! linked, so a mismatch gets a message naming versions rather than a linker
//! error about some function.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::{WIT_PACKAGE, WIT_VERSION};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    #[error(
        "it was built against {WIT_PACKAGE}@{found}, but this host speaks {WIT_PACKAGE}@{WIT_VERSION}; rebuild it against wit/ of this host"
    )]
    WrongVersion { found: String },
    #[error(
        "it does not export `{WIT_PACKAGE}/tool@{WIT_VERSION}`; is it a tool component (world `tool-component`)?"
    )]
    NotATool,
    #[error("it imports `{0}`, which this host does not provide to components")]
    UnknownImport(String),
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

pub fn check(engine: &Engine, component: &Component) -> Result<(), ContractError> {
    let ty = component.component_type();
    let mut exports_tool = false;
    for (name, _) in ty.exports(engine) {
        if let Some((WIT_PACKAGE, "tool", version)) = parse(name) {
            match version {
                Some(WIT_VERSION) => exports_tool = true,
                other => {
                    return Err(ContractError::WrongVersion {
                        found: other.unwrap_or("(unversioned)").to_string(),
                    });
                }
            }
        }
    }
    if !exports_tool {
        return Err(ContractError::NotATool);
    }
    for (name, _) in ty.imports(engine) {
        let Some((package, _, version)) = parse(name) else {
            return Err(ContractError::UnknownImport(name.to_string()));
        };
        if !import_allowed(package) {
            return Err(ContractError::UnknownImport(name.to_string()));
        }
        if package == WIT_PACKAGE && version != Some(WIT_VERSION) {
            return Err(ContractError::WrongVersion {
                found: version.unwrap_or("(unversioned)").to_string(),
            });
        }
    }
    Ok(())
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
}
