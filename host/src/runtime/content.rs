//! What components answer (WIT content blocks, resource contents) made
//! into MCP's JSON shapes, checked on the way: a component cannot send a
//! block MCP does not know, a `_meta` that is not an object, or a URI the
//! client could not read.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rmcp::model::{ContentBlock, ResourceContents};
use serde_json::{Map, Value, json};

use crate::bindings::zava::mcp::types::{
    Content, Media, ResourceBody, ResourceContents as WitContents, ResourceLink,
};

/// Longest `_meta` object a component may attach, in bytes of JSON.
pub const MAX_META_BYTES: usize = 16 * 1024;
/// Most tools, prompts or resources one component may declare (and a
/// quarter as many templates): each is checked and listed, so the number is
/// bounded.
pub const MAX_DECLARED: usize = 512;
/// Longest URI a component may name.
pub const MAX_URI_BYTES: usize = 2048;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContentError {
    #[error("a content block's URI {0:?} is not an absolute URI of at most {MAX_URI_BYTES} bytes")]
    BadUri(String),
    #[error("a {0} block has an empty MIME type")]
    NoMimeType(&'static str),
    #[error("its _meta is not a JSON object of at most {MAX_META_BYTES} bytes: {0}")]
    BadMeta(String),
}

/// `scheme:rest`, the scheme as RFC 3986 spells it, no whitespace or
/// control characters anywhere.
pub fn is_absolute_uri(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    uri.len() <= MAX_URI_BYTES
        && !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `text` as a log or error message may repeat it: at most `max` bytes,
/// control characters escaped.
pub fn printable(text: &str, max: usize) -> String {
    let cut = crate::capabilities::caller::truncate(text, max);
    let mut out: String = cut.escape_debug().collect();
    if cut.len() < text.len() {
        out.push_str(&format!("… ({} bytes)", text.len()));
    }
    out
}

/// A component's `_meta` JSON text, checked to be a small object that says
/// only what is known to be safe: MCP Apps' `ui.prefersBorder`. The rest of
/// `ui` (`csp` connect/resource/frame domains, `permissions`, `domain`)
/// would let an app's page reach the network, the camera or the clipboard
/// in the client, holding the caller's rows — a component has no network,
/// and neither has its page. Anything else is refused, not dropped, so an
/// author learns why.
pub fn meta(text: &str) -> Result<Map<String, Value>, ContentError> {
    if text.len() > MAX_META_BYTES {
        return Err(ContentError::BadMeta(format!("{} bytes", text.len())));
    }
    let object = match serde_json::from_str(text) {
        Ok(Value::Object(object)) => object,
        Ok(_) => return Err(ContentError::BadMeta("not an object".into())),
        Err(e) => return Err(ContentError::BadMeta(e.to_string())),
    };
    for (key, value) in &object {
        let allowed = key == "ui"
            && value.as_object().is_some_and(|ui| {
                ui.iter()
                    .all(|(k, v)| k == "prefersBorder" && v.is_boolean())
            });
        if !allowed {
            return Err(ContentError::BadMeta(format!(
                "`{}` is not allowed: a component's _meta may carry only ui.prefersBorder \
                 (an app's page gets no network, permissions or domain of its own)",
                printable(key, 64)
            )));
        }
    }
    Ok(object)
}

fn uri(uri: String) -> Result<String, ContentError> {
    if is_absolute_uri(&uri) {
        Ok(uri)
    } else {
        Err(ContentError::BadUri(uri))
    }
}

fn media(kind: &'static str, Media { data, mime_type }: Media) -> Result<Value, ContentError> {
    if mime_type.trim().is_empty() {
        return Err(ContentError::NoMimeType(kind));
    }
    Ok(json!({ "type": kind, "data": BASE64.encode(data), "mimeType": mime_type }))
}

/// Resource contents as MCP JSON (`TextResourceContents`/`BlobResourceContents`).
pub fn resource_json(contents: WitContents) -> Result<Value, ContentError> {
    let mut object = Map::new();
    object.insert("uri".into(), uri(contents.uri)?.into());
    if let Some(mime) = contents.mime_type {
        object.insert("mimeType".into(), mime.into());
    }
    match contents.body {
        ResourceBody::Text(text) => object.insert("text".into(), text.into()),
        ResourceBody::Blob(bytes) => object.insert("blob".into(), BASE64.encode(bytes).into()),
    };
    if let Some(text) = contents.meta {
        object.insert("_meta".into(), Value::Object(meta(&text)?));
    }
    Ok(Value::Object(object))
}

fn link_json(link: ResourceLink) -> Result<Value, ContentError> {
    let mut object = Map::new();
    object.insert("type".into(), "resource_link".into());
    object.insert("uri".into(), uri(link.uri)?.into());
    object.insert("name".into(), link.name.into());
    for (key, value) in [
        ("title", link.title),
        ("description", link.description),
        ("mimeType", link.mime_type),
    ] {
        if let Some(value) = value {
            object.insert(key.into(), value.into());
        }
    }
    Ok(Value::Object(object))
}

/// One content block as MCP JSON.
pub fn block_json(content: Content) -> Result<Value, ContentError> {
    match content {
        Content::Text(text) => Ok(json!({ "type": "text", "text": text })),
        Content::Image(m) => media("image", m),
        Content::Audio(m) => media("audio", m),
        Content::Resource(contents) => {
            Ok(json!({ "type": "resource", "resource": resource_json(contents)? }))
        }
        Content::ResourceLink(link) => link_json(link),
    }
}

/// One content block as rmcp's type (text without a JSON round trip: it is
/// nearly every tool result).
pub fn block(content: Content) -> Result<ContentBlock, ContentError> {
    if let Content::Text(text) = content {
        return Ok(ContentBlock::text(text));
    }
    let value = block_json(content)?;
    Ok(serde_json::from_value(value).expect("MCP content block JSON matches rmcp's type"))
}

pub fn resource(contents: WitContents) -> Result<ResourceContents, ContentError> {
    let value = resource_json(contents)?;
    Ok(serde_json::from_value(value).expect("MCP resource contents JSON matches rmcp's type"))
}

/// The bytes a content block will take on the wire, at least: every string
/// it carries, binary data as base64. (JSON escaping adds more; the
/// budget is a bound on what a component makes the host copy, not exact.)
pub fn wire_size(content: &Content) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let base64 = |bytes: &[u8]| bytes.len().div_ceil(3) * 4;
    match content {
        Content::Text(t) => t.len(),
        Content::Image(m) | Content::Audio(m) => base64(&m.data) + m.mime_type.len(),
        Content::Resource(c) => contents_wire_size(c),
        Content::ResourceLink(l) => {
            l.uri.len() + l.name.len() + opt(&l.title) + opt(&l.description) + opt(&l.mime_type)
        }
    }
}

/// The bytes resource contents will take on the wire, at least.
pub fn contents_wire_size(c: &WitContents) -> usize {
    c.uri.len()
        + c.mime_type.as_ref().map_or(0, String::len)
        + c.meta.as_ref().map_or(0, String::len)
        + match &c.body {
            ResourceBody::Text(t) => t.len(),
            ResourceBody::Blob(b) => b.len().div_ceil(3) * 4,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_only() {
        assert!(is_absolute_uri("zava://schema/orders"));
        assert!(is_absolute_uri("ui://sales-sql/result-view.html"));
        assert!(is_absolute_uri("test://template/123/data"));
        assert!(!is_absolute_uri("relative/path"));
        assert!(!is_absolute_uri("1x://a"));
        assert!(!is_absolute_uri("a b://c"));
        assert!(!is_absolute_uri("zava://with space"));
        assert!(!is_absolute_uri("zava:"));
        assert!(!is_absolute_uri(&format!(
            "zava://{}",
            "a".repeat(MAX_URI_BYTES)
        )));
    }

    #[test]
    fn blocks_become_mcp_json() {
        let image = block(Content::Image(Media {
            data: vec![1, 2, 3],
            mime_type: "image/png".into(),
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&image).unwrap(),
            json!({"type":"image","data":"AQID","mimeType":"image/png"})
        );
        let embedded = block(Content::Resource(WitContents {
            uri: "test://x".into(),
            mime_type: Some("text/plain".into()),
            body: ResourceBody::Text("hi".into()),
            meta: Some(r#"{"ui":{"prefersBorder":true}}"#.into()),
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&embedded).unwrap(),
            json!({"type":"resource","resource":{"uri":"test://x","mimeType":"text/plain","text":"hi","_meta":{"ui":{"prefersBorder":true}}}})
        );
        let link = block(Content::ResourceLink(ResourceLink {
            uri: "zava://schema/orders".into(),
            name: "orders".into(),
            title: None,
            description: Some("d".into()),
            mime_type: None,
        }))
        .unwrap();
        assert_eq!(
            serde_json::to_value(&link).unwrap(),
            json!({"type":"resource_link","uri":"zava://schema/orders","name":"orders","description":"d"})
        );
    }

    #[test]
    fn every_string_counts_against_the_budget() {
        let image = Content::Image(Media {
            data: vec![],
            mime_type: "x".repeat(1 << 20),
        });
        assert!(wire_size(&image) >= 1 << 20);
        let link = Content::ResourceLink(ResourceLink {
            uri: "a:b".into(),
            name: "n".into(),
            title: Some("t".repeat(1000)),
            description: None,
            mime_type: Some("m".repeat(1000)),
        });
        assert!(wire_size(&link) >= 2000);
    }

    #[test]
    fn bad_blocks_are_refused() {
        assert_eq!(
            block(Content::Audio(Media {
                data: vec![],
                mime_type: " ".into()
            }))
            .unwrap_err(),
            ContentError::NoMimeType("audio")
        );
        assert!(matches!(
            resource(WitContents {
                uri: "x".into(),
                mime_type: None,
                body: ResourceBody::Blob(vec![]),
                meta: None
            }),
            Err(ContentError::BadUri(_))
        ));
        assert!(matches!(meta("[1]"), Err(ContentError::BadMeta(_))));
        assert!(meta(r#"{"ui":{"prefersBorder":true}}"#).is_ok());
        for refused in [
            r#"{"ui":{"csp":{"connectDomains":["https://attacker.example"]}}}"#,
            r#"{"ui":{"permissions":{"camera":{}}}}"#,
            r#"{"ui":{"domain":"x.example"}}"#,
            r#"{"ui":{"prefersBorder":"yes"}}"#,
            r#"{"openai/widgetCSP":{}}"#,
        ] {
            assert!(
                matches!(meta(refused), Err(ContentError::BadMeta(_))),
                "{refused}"
            );
        }
        assert!(matches!(
            meta(&format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_META_BYTES))),
            Err(ContentError::BadMeta(_))
        ));
    }
}
