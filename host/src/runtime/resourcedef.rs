//! What a component declares about its resources and resource templates,
//! validated and turned into the MCP shapes the host advertises; and the
//! matching of a URI against a template, which decides who reads it.

use rmcp::model::{Resource, ResourceTemplate};
use serde_json::{Map, Value};

use super::content::{MAX_DECLARED, is_absolute_uri};

/// Most resource templates one component may declare.
const MAX_TEMPLATES: usize = MAX_DECLARED / 4;
use crate::bindings::exports::zava::mcp::resources::{ResourceDef, TemplateDef};

/// A resource as the host serves it.
#[derive(Debug, Clone)]
pub struct ResourceSpec {
    pub uri: String,
    pub mcp: Resource,
}

/// A resource template as the host serves it.
#[derive(Debug, Clone)]
pub struct TemplateSpec {
    pub template: UriTemplate,
    pub mcp: ResourceTemplate,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResourceDefError {
    #[error("resource URI {0:?} is not an absolute URI (at most 2048 bytes)")]
    BadUri(String),
    #[error("resource `{0}` is declared twice by this component")]
    Duplicate(String),
    #[error("resource template {template:?}: {reason}")]
    BadTemplate { template: String, reason: String },
    #[error("resource `{0}` has an empty name")]
    NoName(String),
    #[error("the component declares more than {0} {1}")]
    TooMany(usize, &'static str),
    #[error("resource `{uri}`: {reason}")]
    BadMeta { uri: String, reason: String },
}

/// An RFC 6570 level-1 template: literal text and `{name}` variables, each
/// matching one non-empty path segment (no `/`, `?` or `#`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

impl UriTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest.find('}').ok_or("a `{` is not closed")?;
                    let name = &rest[1..end];
                    if name.is_empty()
                        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    {
                        return Err(format!(
                            "variable {{{name}}} is not a simple name (operators and modifiers are not supported)"
                        ));
                    }
                    if matches!(parts.last(), Some(Part::Variable(_))) {
                        return Err("two variables must be separated by literal text".into());
                    }
                    if parts.iter().any(|p| *p == Part::Variable(name.into())) {
                        return Err(format!("variable {{{name}}} appears twice"));
                    }
                    parts.push(Part::Variable(name.into()));
                    rest = &rest[end + 1..];
                }
                found => {
                    let end = found.unwrap_or(rest.len());
                    if rest[..end].contains('}') {
                        return Err("a `}` has no `{`".into());
                    }
                    parts.push(Part::Literal(rest[..end].into()));
                    rest = &rest[end..];
                }
            }
        }
        match parts.first() {
            Some(Part::Literal(prefix)) if is_absolute_uri(&format!("{prefix}x")) => {}
            _ => return Err("it must start with an absolute URI's scheme (e.g. `zava://`)".into()),
        }
        Ok(Self {
            text: text.into(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The literal text before the first variable.
    pub fn prefix(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(prefix)) => prefix,
            _ => "",
        }
    }

    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The variables' values if `uri` matches.
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut values = Vec::new();
        let mut rest = uri;
        let mut parts = self.parts.iter().peekable();
        while let Some(part) = parts.next() {
            match part {
                Part::Literal(literal) => rest = rest.strip_prefix(literal.as_str())?,
                Part::Variable(name) => {
                    // A value is one segment: it ends at the next literal
                    // (or at the end), and may not cross a `/`, `?` or `#`.
                    let end = match parts.peek() {
                        Some(Part::Literal(next)) => rest.find(next.as_str())?,
                        _ => rest.len(),
                    };
                    let value = &rest[..end];
                    if value.is_empty() || value.contains(['/', '?', '#']) {
                        return None;
                    }
                    values.push((name.clone(), value.to_string()));
                    rest = &rest[end..];
                }
            }
        }
        rest.is_empty().then_some(values)
    }

    /// Whether some URI could match both templates, judged conservatively:
    /// one's literal prefix is a prefix of the other's.
    pub fn overlaps(&self, other: &UriTemplate) -> bool {
        let (a, b) = (self.prefix(), other.prefix());
        a.starts_with(b) || b.starts_with(a)
    }
}

fn optional(object: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        object.insert(key.into(), value.into());
    }
}

pub fn validate_resources(defs: Vec<ResourceDef>) -> Result<Vec<ResourceSpec>, ResourceDefError> {
    if defs.len() > MAX_DECLARED {
        return Err(ResourceDefError::TooMany(MAX_DECLARED, "resources"));
    }
    let mut specs: Vec<ResourceSpec> = Vec::with_capacity(defs.len());
    let mut uris = std::collections::HashSet::new();
    for def in defs {
        if !is_absolute_uri(&def.uri) {
            return Err(ResourceDefError::BadUri(def.uri));
        }
        if !uris.insert(def.uri.clone()) {
            return Err(ResourceDefError::Duplicate(def.uri));
        }
        if def.name.trim().is_empty() {
            return Err(ResourceDefError::NoName(def.uri));
        }
        let mut object = Map::new();
        object.insert("uri".into(), def.uri.clone().into());
        object.insert("name".into(), def.name.into());
        optional(&mut object, "title", def.title);
        optional(&mut object, "description", def.description);
        optional(&mut object, "mimeType", def.mime_type);
        if let Some(text) = &def.meta {
            let meta = super::content::meta(text).map_err(|e| ResourceDefError::BadMeta {
                uri: def.uri.clone(),
                reason: e.to_string(),
            })?;
            object.insert("_meta".into(), Value::Object(meta));
        }
        let mcp = serde_json::from_value(Value::Object(object))
            .expect("MCP resource JSON matches rmcp's type");
        specs.push(ResourceSpec { uri: def.uri, mcp });
    }
    Ok(specs)
}

pub fn validate_templates(defs: Vec<TemplateDef>) -> Result<Vec<TemplateSpec>, ResourceDefError> {
    // Overlaps are checked pairwise: a small bound keeps that cheap.
    if defs.len() > MAX_TEMPLATES {
        return Err(ResourceDefError::TooMany(
            MAX_TEMPLATES,
            "resource templates",
        ));
    }
    let mut specs: Vec<TemplateSpec> = Vec::with_capacity(defs.len());
    for def in defs {
        let bad = |reason: String| ResourceDefError::BadTemplate {
            template: def.uri_template.clone(),
            reason,
        };
        if def.uri_template.len() > super::content::MAX_URI_BYTES {
            return Err(bad("it is too long".into()));
        }
        let template = UriTemplate::parse(&def.uri_template).map_err(bad)?;
        if let Some(other) = specs.iter().find(|s| s.template.overlaps(&template)) {
            return Err(bad(format!(
                "it overlaps {:?} (templates of one host must not match the same URI)",
                other.template.as_str()
            )));
        }
        if def.name.trim().is_empty() {
            return Err(ResourceDefError::NoName(def.uri_template));
        }
        let mut object = Map::new();
        object.insert("uriTemplate".into(), def.uri_template.into());
        object.insert("name".into(), def.name.into());
        optional(&mut object, "title", def.title);
        optional(&mut object, "description", def.description);
        optional(&mut object, "mimeType", def.mime_type);
        let mcp = serde_json::from_value(Value::Object(object))
            .expect("MCP resource template JSON matches rmcp's type");
        specs.push(TemplateSpec { template, mcp });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_variable() {
        let t = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert_eq!(
            t.matches("test://template/123/data"),
            Some(vec![("id".into(), "123".into())])
        );
        assert_eq!(t.matches("test://template//data"), None);
        assert_eq!(t.matches("test://template/1/2/data"), None);
        assert_eq!(t.matches("test://template/123/data/more"), None);
        let schema = UriTemplate::parse("zava://schema/{table}").unwrap();
        assert_eq!(
            schema.matches("zava://schema/orders"),
            Some(vec![("table".into(), "orders".into())])
        );
        assert_eq!(schema.matches("zava://schema/orders?x"), None);
        assert_eq!(schema.variables().collect::<Vec<_>>(), ["table"]);
    }

    #[test]
    fn only_simple_templates_are_accepted() {
        for bad in [
            "{scheme}://x",
            "zava://{a}{b}",
            "zava://{+path}",
            "zava://{a}/{a}",
            "zava://{open",
            "zava://close}",
            "relative/{x}",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn overlapping_templates_are_detected() {
        let a = UriTemplate::parse("zava://schema/{table}").unwrap();
        let b = UriTemplate::parse("zava://{kind}/x").unwrap();
        let c = UriTemplate::parse("test://template/{id}/data").unwrap();
        assert!(a.overlaps(&b));
        assert!(!a.overlaps(&c));
    }
}
