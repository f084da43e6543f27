//! One MCP session as one caller (rmcp's client over Streamable HTTP).

use rmcp::model::{CallToolRequestParams, ClientConfig, JsonObject, ProtocolVersion};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, RoleClient, ServiceExt};

use mcp_host::identity::HEAD_OFFICE_ID;
use mcp_host::seed::generate::STORES;

#[derive(Clone)]
pub struct Quiet;

impl ClientHandler for Quiet {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }
}

/// A caller of the demo data: head office, or one store's manager.
#[derive(Clone, Debug)]
pub struct User {
    pub label: String,
    pub id: String,
    /// The only store whose rows this caller may see (`None`: all).
    pub store: Option<i64>,
}

/// `head-office`, a store's short name (`seattle`), `stores` or `all`.
pub fn users(names: &[String]) -> anyhow::Result<Vec<User>> {
    let managers: Vec<User> = STORES
        .iter()
        .enumerate()
        .map(|(i, (name, _, manager))| User {
            label: name.rsplit(' ').next().unwrap_or(name).to_lowercase(),
            id: manager.to_string(),
            store: Some(i as i64 + 1),
        })
        .collect();
    let head_office = User {
        label: "head-office".into(),
        id: HEAD_OFFICE_ID.to_string(),
        store: None,
    };
    let mut out = Vec::new();
    for name in names {
        match name.as_str() {
            "head-office" => out.push(head_office.clone()),
            "stores" => out.extend(managers.iter().cloned()),
            "all" => {
                out.push(head_office.clone());
                out.extend(managers.iter().cloned());
            }
            short => out.push(
                managers
                    .iter()
                    .find(|m| m.label == short)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("no store called {short}"))?,
            ),
        }
    }
    anyhow::ensure!(!out.is_empty(), "no users");
    Ok(out)
}

pub type Session = RunningService<RoleClient, Quiet>;

pub async fn connect(url: &str, user: &User) -> anyhow::Result<Session> {
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        http::HeaderName::from_static("x-rls-user-id"),
        http::HeaderValue::from_str(&user.id)?,
    );
    let config = StreamableHttpClientTransportConfig::with_uri(url).custom_headers(headers);
    Ok(Quiet
        .serve(StreamableHttpClientTransport::from_config(config))
        .await?)
}

/// Calls `tool`; `Ok` holds the structured content (or the text), `Err` a
/// tool error or a protocol/transport failure, as text.
pub async fn call(
    session: &Session,
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let arguments: JsonObject = arguments.as_object().cloned().unwrap_or_default();
    let request = CallToolRequestParams::new(tool.to_string()).with_arguments(arguments);
    match session.call_tool(request).await {
        Ok(result) => {
            let text = result
                .content
                .first()
                .and_then(|c| c.as_text())
                .map(|t| t.text.clone())
                .unwrap_or_default();
            if result.is_error == Some(true) {
                Err(text)
            } else {
                Ok(result
                    .structured_content
                    .unwrap_or(serde_json::Value::String(text)))
            }
        }
        Err(error) => Err(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_resolve_to_the_demo_callers() {
        let all = users(&["all".into()]).unwrap();
        assert_eq!(all.len(), 1 + STORES.len());
        let seattle = users(&["seattle".into()]).unwrap();
        assert_eq!(seattle[0].store, Some(1));
        assert_eq!(seattle[0].id, "f47ac10b-58cc-4372-a567-0e02b2c3d479");
        assert!(users(&["atlantis".into()]).is_err());
    }
}
