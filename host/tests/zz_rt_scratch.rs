// SCRATCH red-team proofs; deleted after running.
use mcp_host::bindings::exports::zava::mcp::prompts::PromptDef;
use mcp_host::bindings::exports::zava::mcp::resources::{ResourceDef, TemplateDef};
use mcp_host::bindings::exports::zava::mcp::tool::ToolDef;
use mcp_host::bindings::zava::mcp::types::{
    Content, Media, ResourceBody, ResourceContents, ResourceLink,
};
use mcp_host::runtime::{content, promptdef, resourcedef, tooldef};
use std::time::Instant;

fn res(i: usize) -> ResourceDef {
    ResourceDef {
        uri: format!("a://{i}"),
        name: "n".into(),
        title: None,
        description: None,
        mime_type: None,
        meta: None,
    }
}

#[test]
fn rt_quadratic_resources() {
    for n in [10_000usize, 20_000, 40_000] {
        let defs: Vec<_> = (0..n).map(res).collect();
        let t = Instant::now();
        resourcedef::validate_resources(defs).unwrap();
        eprintln!("validate_resources n={n}: {:?}", t.elapsed());
    }
    for n in [2_000usize, 4_000] {
        let defs: Vec<_> = (0..n)
            .map(|i| PromptDef {
                name: format!("p{i}"),
                title: None,
                description: String::new(),
                arguments: vec![],
            })
            .collect();
        let t = Instant::now();
        promptdef::validate(defs).unwrap();
        eprintln!("prompt validate n={n}: {:?}", t.elapsed());
    }
    // templates: distinct prefixes that don't overlap
    for n in [2_000usize, 4_000] {
        let defs: Vec<_> = (0..n)
            .map(|i| TemplateDef {
                uri_template: format!("s{i}x://{{v}}"),
                name: "n".into(),
                title: None,
                description: None,
                mime_type: None,
            })
            .collect();
        let t = Instant::now();
        resourcedef::validate_templates(defs).unwrap();
        eprintln!("validate_templates n={n}: {:?}", t.elapsed());
    }
}

#[test]
fn rt_app_may_name_foreign_ui_uri() {
    let d = ToolDef {
        name: "evil".into(),
        title: None,
        description: "d".into(),
        input_schema: r#"{"type":"object"}"#.into(),
        output_schema: None,
        read_only: true,
        app: Some("ui://sales-sql/result-view.html".into()),
    };
    assert!(tooldef::validate(vec![d]).is_ok());
}

#[test]
fn rt_content_expects_hold_on_odd_strings() {
    let odd = [
        "",
        "\u{0}",
        "\u{feff}",
        "\u{10ffff}",
        "\"}{",
        "{\"type\":\"text\"}",
    ];
    for s in odd {
        for m in [None, Some(s.to_string())] {
            let _ = content::block(Content::ResourceLink(ResourceLink {
                uri: "x:y".into(),
                name: s.into(),
                title: m.clone(),
                description: m.clone(),
                mime_type: m.clone(),
            }));
            let _ = content::block(Content::Resource(ResourceContents {
                uri: "x:y".into(),
                mime_type: m.clone(),
                body: ResourceBody::Text(s.into()),
                meta: Some(r#"{"type":"x","text":1,"uri":5,"blob":"a"}"#.into()),
            }));
            let _ = content::block(Content::Resource(ResourceContents {
                uri: "x:y".into(),
                mime_type: m.clone(),
                body: ResourceBody::Blob(vec![]),
                meta: Some(r#"{"text":"t"}"#.into()),
            }));
            let _ = content::resource(ResourceContents {
                uri: "x:y".into(),
                mime_type: m.clone(),
                body: ResourceBody::Blob(vec![1]),
                meta: Some("{}".into()),
            });
            let _ = content::block(Content::Image(Media {
                data: vec![],
                mime_type: format!("a{s}"),
            }));
        }
        let _ = resourcedef::validate_resources(vec![ResourceDef {
            uri: "x:y".into(),
            name: format!("a{s}"),
            title: Some(s.into()),
            description: Some(s.into()),
            mime_type: Some(s.into()),
            meta: Some(r#"{"ui":{"csp":{"connectDomains":["https://evil.example"]}}}"#.into()),
        }])
        .unwrap();
        let _ = resourcedef::validate_templates(vec![TemplateDef {
            uri_template: "x:{v}".into(),
            name: format!("a{s}"),
            title: Some(s.into()),
            description: Some(s.into()),
            mime_type: Some(s.into()),
        }])
        .unwrap();
    }
    // deep meta at the serde_json recursion limit
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(126), "]".repeat(126));
    let r = content::meta(&deep);
    eprintln!(
        "deep meta: {:?}",
        r.as_ref().map(|_| "ok").map_err(|e| e.to_string())
    );
}

#[test]
fn rt_template_matching() {
    let t = resourcedef::UriTemplate::parse("zava://schema/{table}").unwrap();
    let long = format!("zava://schema/{}", "A".repeat(1_000_000));
    assert!(
        t.matches(&long).is_some(),
        "1 MB segment matches a template"
    );
    assert!(
        t.matches("zava://schema/a\nb\u{0}c").is_some(),
        "control chars match"
    );
    // variable followed by literal: first occurrence
    let t2 = resourcedef::UriTemplate::parse("x://{a}.json").unwrap();
    eprintln!("x://a.json.json -> {:?}", t2.matches("x://a.json.json"));
    // template without variables
    let t3 = resourcedef::UriTemplate::parse("x://fixed").unwrap();
    eprintln!("fixed: {:?}", t3.matches("x://fixed"));
    // template whose literal contains '{'-free but percent-encoding differences
    eprintln!(
        "ZAVA upper scheme vs lower: {:?}",
        t.matches("ZAVA://schema/orders")
    );
}
