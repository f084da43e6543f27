//! Prompts, resources and completions served by components: the same road
//! as a tool call — the caller's identity and limits, a fresh instance under
//! the component's grant, notifications to the caller only, one metrics and
//! audit record — with the answers checked and made into MCP's shapes.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rmcp::model::{
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResult,
    ReadResourceRequestParams, ReadResourceResult, Reference,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Map, Value, json};
use tracing::Instrument;

use super::handler::{RATE_LIMITED, ToolServer, identity};
use super::notices;
use crate::audit::CallAudit;
use crate::bindings::exports::zava::mcp::prompts::{PromptResult, Role};
use crate::outcome::Outcome;
use crate::runtime::content;
use crate::runtime::loader::LoadedComponent;
use crate::runtime::sandbox::{Answer, CallError, CallReport, Completion, Request};

/// Most completion values sent (MCP's own cap).
const MAX_COMPLETIONS: usize = 100;
/// Longest completion value sent, in bytes.
const MAX_COMPLETION_BYTES: usize = 1024;
/// Longest name or URI an error message or the audit repeats.
const MAX_ECHO: usize = 256;

/// What a served request is, for metrics and the audit trail.
struct Served<'a> {
    method: &'static str,
    /// What the catalogue calls it (prompt name, resource URI or
    /// template): the metrics label, bounded by what components offer.
    name: &'a str,
    /// What the client asked for (a URI matching a template), for the audit.
    asked: &'a str,
}

impl ToolServer {
    /// Serves `request` through `component` as the request's caller.
    async fn serve(
        &self,
        context: &RequestContext<RoleServer>,
        served: Served<'_>,
        component: &Arc<LoadedComponent>,
        request: Request,
    ) -> Result<Answer, ErrorData> {
        let caller = identity(context)?;
        let protocol = context.protocol_version().map(|v| v.to_string());
        let (started, at) = (Instant::now(), SystemTime::now());
        let finish = |stats: crate::capabilities::CallStats, outcome: Outcome| {
            let duration = started.elapsed();
            self.metrics
                .request(served.method, served.name, outcome, duration, Some(&stats));
            self.audit.record(CallAudit {
                at,
                caller: caller.clone(),
                method: served.method,
                tool: content::printable(served.asked, MAX_ECHO),
                protocol: protocol.clone(),
                component: Some((component.file.clone(), component.digest.clone())),
                queries: stats.queries,
                embedded_texts: stats.embedded_texts,
                duration,
                outcome,
            })
        };
        let _permit = match self.limits.acquire(&caller.principal) {
            Ok(permit) => permit,
            Err(refusal) => {
                finish(Default::default(), Outcome::RateLimited).await;
                let data = refusal
                    .retry_after()
                    .map(|d| json!({ "retry_after_ms": d.as_millis() as u64 }));
                return Err(ErrorData::new(RATE_LIMITED, refusal.to_string(), data));
            }
        };
        let span = tracing::info_span!(
            "component_request",
            otel.name = %format!("{} {}", served.method, served.name),
            method = served.method,
            name = %served.name,
            component = %component.file,
            scope = %caller.scope.label(),
        );
        let (client, forwarder) = notices::open(context, self.log_level(context));
        let CallReport { result, stats } = self
            .sandbox
            .serve(component, request, &caller, Some(&client))
            .instrument(span)
            .await;
        drop(client);
        forwarder.finish().await;
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(error) => error.outcome(),
        };
        finish(stats, outcome).await;
        result.map_err(|error| match error {
            CallError::InvalidArguments(message) => ErrorData::invalid_params(message, None),
            CallError::NotFound(message) if served.method == "resources/read" => {
                let uri = content::printable(served.asked, MAX_ECHO);
                ErrorData::resource_not_found(message, Some(json!({ "uri": uri })))
            }
            CallError::NotFound(message) => ErrorData::invalid_params(message, None),
            CallError::Busy => ErrorData::new(RATE_LIMITED, error.to_string(), None),
            other => ErrorData::internal_error(other.to_string(), None),
        })
    }

    /// Records an answer that broke the host's rules and says so.
    fn bad_answer(&self, method: &'static str, name: &str, why: String) -> ErrorData {
        self.metrics
            .request(method, name, Outcome::BadOutput, Default::default(), None);
        ErrorData::internal_error(format!("the component's answer was refused: {why}"), None)
    }

    pub(super) async fn serve_get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResult, ErrorData> {
        let catalog = self.registry.snapshot();
        let Some(component) = catalog.prompt_owner(&request.name).cloned() else {
            return Err(ErrorData::invalid_params(
                format!(
                    "unknown prompt `{}`; call prompts/list for the prompts available",
                    content::printable(&request.name, MAX_ECHO)
                ),
                None,
            ));
        };
        let spec = component
            .prompts
            .iter()
            .find(|p| p.name == request.name)
            .expect("the catalogue indexes the component's own prompts");
        let given = request.arguments.unwrap_or_default();
        spec.check_arguments(&given)
            .map_err(|message| ErrorData::invalid_params(message, None))?;
        let arguments = string_pairs(given)?;
        let served = Served {
            method: "prompts/get",
            name: &spec.name,
            asked: &spec.name,
        };
        let request = Request::GetPrompt {
            name: spec.name.clone(),
            arguments,
        };
        let Answer::Prompt(result) = self.serve(&context, served, &component, request).await?
        else {
            unreachable!("prompts/get answers with a prompt")
        };
        prompt_result(result, self.max_output_bytes)
            .map_err(|why| self.bad_answer("prompts/get", &spec.name, why))
    }

    pub(super) async fn serve_read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, ErrorData> {
        let catalog = self.registry.snapshot();
        let uri = request.uri;
        if uri.len() > content::MAX_URI_BYTES {
            return Err(ErrorData::invalid_params(
                format!(
                    "a resource URI is at most {} bytes; this one is {}",
                    content::MAX_URI_BYTES,
                    uri.len()
                ),
                None,
            ));
        }
        let Some((component, template)) = catalog.resource_owner(&uri) else {
            return Err(ErrorData::resource_not_found(
                format!(
                    "no resource {}; call resources/list and resources/templates/list for what is served",
                    content::printable(&uri, MAX_ECHO)
                ),
                Some(json!({ "uri": content::printable(&uri, MAX_ECHO) })),
            ));
        };
        let component = component.clone();
        let name = template.map_or(uri.as_str(), |t| t.as_str()).to_string();
        let served = Served {
            method: "resources/read",
            name: &name,
            asked: &uri,
        };
        let request = Request::ReadResource { uri: uri.clone() };
        let Answer::Contents(contents) = self.serve(&context, served, &component, request).await?
        else {
            unreachable!("resources/read answers with contents")
        };
        read_result(&component, &uri, contents, self.max_output_bytes)
            .map_err(|why| self.bad_answer("resources/read", &name, why))
    }

    pub(super) async fn serve_complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let catalog = self.registry.snapshot();
        let argument = request.argument;
        let context_arguments: Vec<(String, String)> = request
            .context
            .and_then(|c| c.arguments)
            .map(|a| a.into_iter().collect())
            .unwrap_or_default();
        let (component, name, request) = match &request.r#ref {
            Reference::Prompt(prompt) => {
                let Some(component) = catalog.prompt_owner(&prompt.name) else {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "unknown prompt `{}`",
                            content::printable(&prompt.name, MAX_ECHO)
                        ),
                        None,
                    ));
                };
                let spec = component.prompts.iter().find(|p| p.name == prompt.name);
                if !spec.is_some_and(|s| s.arguments.iter().any(|(n, _)| *n == argument.name)) {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "prompt `{}` has no argument `{}`",
                            prompt.name,
                            content::printable(&argument.name, MAX_ECHO)
                        ),
                        None,
                    ));
                }
                let completion = Completion {
                    of: prompt.name.clone(),
                    argument: argument.name,
                    value: argument.value,
                    context: context_arguments,
                };
                (
                    component.clone(),
                    prompt.name.clone(),
                    Request::CompletePrompt(completion),
                )
            }
            Reference::Resource(resource) => {
                let Some(component) = catalog.template_owner(&resource.uri) else {
                    // A plain resource has nothing to complete.
                    return Ok(completions(Vec::new()));
                };
                let template = component
                    .templates
                    .iter()
                    .find(|t| t.template.as_str() == resource.uri)
                    .expect("the catalogue indexes the component's own templates");
                if !template.template.variables().any(|v| v == argument.name) {
                    return Err(ErrorData::invalid_params(
                        format!(
                            "template `{}` has no variable `{}`",
                            resource.uri,
                            content::printable(&argument.name, MAX_ECHO)
                        ),
                        None,
                    ));
                }
                let completion = Completion {
                    of: resource.uri.clone(),
                    argument: argument.name,
                    value: argument.value,
                    context: context_arguments,
                };
                (
                    component.clone(),
                    resource.uri.clone(),
                    Request::CompleteTemplate(completion),
                )
            }
            _ => return Ok(completions(Vec::new())),
        };
        let served = Served {
            method: "completion/complete",
            name: &name,
            asked: &name,
        };
        let Answer::Completions(values) = self.serve(&context, served, &component, request).await?
        else {
            unreachable!("completion/complete answers with values")
        };
        Ok(completions(values))
    }
}

/// MCP says prompt arguments are strings; a number or boolean a client
/// sends is taken as its JSON text, anything else refused.
fn string_pairs(given: Map<String, Value>) -> Result<Vec<(String, String)>, ErrorData> {
    given
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name, text)),
            Value::Number(_) | Value::Bool(_) => Ok((name, value.to_string())),
            _ => Err(ErrorData::invalid_params(
                format!("prompt argument `{name}` must be a string"),
                None,
            )),
        })
        .collect()
}

/// At most [`MAX_COMPLETIONS`] values, each cut to a sane length, with
/// the total when there were more.
fn completions(values: Vec<String>) -> CompleteResult {
    let total = values.len();
    let values: Vec<String> = values
        .into_iter()
        .filter(|v| v.len() <= MAX_COMPLETION_BYTES)
        .take(MAX_COMPLETIONS)
        .collect();
    let has_more = total > values.len();
    serde_json::from_value(json!({
        "completion": { "values": values, "total": total, "hasMore": has_more },
        // rmcp strips it for peers older than 2026-07-28.
        "resultType": "complete"
    }))
    .expect("MCP completion JSON matches rmcp's type")
}

fn prompt_result(result: PromptResult, budget: usize) -> Result<GetPromptResult, String> {
    let size: usize = result
        .messages
        .iter()
        .map(|m| content::wire_size(&m.content))
        .sum::<usize>()
        + result.description.as_ref().map_or(0, String::len);
    if size > budget {
        return Err(format!(
            "the prompt is {size} bytes, more than this server's limit of {budget}"
        ));
    }
    let messages = result
        .messages
        .into_iter()
        .map(|message| {
            let role = match message.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            Ok(json!({ "role": role, "content": content::block_json(message.content)? }))
        })
        .collect::<Result<Vec<_>, content::ContentError>>()
        .map_err(|e| e.to_string())?;
    let mut object = Map::new();
    if let Some(description) = result.description {
        object.insert("description".into(), description.into());
    }
    object.insert("messages".into(), Value::Array(messages));
    object.insert("resultType".into(), "complete".into());
    serde_json::from_value(Value::Object(object)).map_err(|e| e.to_string())
}

/// The contents of a read, checked: within the budget, and each naming the
/// URI asked for or one its component serves (a component cannot answer in
/// another's name).
fn read_result(
    component: &LoadedComponent,
    asked: &str,
    contents: Vec<crate::bindings::zava::mcp::types::ResourceContents>,
    budget: usize,
) -> Result<ReadResourceResult, String> {
    if contents.is_empty() {
        return Err("it returned no contents".into());
    }
    let serves = |uri: &str| {
        uri == asked
            || component.resources.iter().any(|r| r.uri == uri)
            || component
                .templates
                .iter()
                .any(|t| t.template.matches(uri).is_some())
    };
    if let Some(stray) = contents.iter().find(|c| !serves(&c.uri)) {
        return Err(format!(
            "its contents name {}, a URI it does not serve",
            content::printable(&stray.uri, MAX_ECHO)
        ));
    }
    let size: usize = contents.iter().map(content::contents_wire_size).sum();
    if size > budget {
        return Err(format!(
            "the resource is {size} bytes, more than this server's limit of {budget}"
        ));
    }
    let contents = contents
        .into_iter()
        .map(content::resource_json)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    serde_json::from_value(json!({ "contents": contents, "resultType": "complete" }))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_are_capped() {
        let many: Vec<String> = (0..150).map(|i| format!("v{i}")).collect();
        let result = serde_json::to_value(completions(many)).unwrap();
        assert_eq!(
            result["completion"]["values"].as_array().unwrap().len(),
            100
        );
        assert_eq!(result["completion"]["total"], 150);
        assert_eq!(result["completion"]["hasMore"], true);
        let few = serde_json::to_value(completions(vec!["a".into(), "x".repeat(2000)])).unwrap();
        assert_eq!(few["completion"]["values"], json!(["a"]));
    }

    #[test]
    fn prompt_arguments_are_strings() {
        let given: Map<String, Value> =
            serde_json::from_value(json!({"period": "2025-Q3", "limit": 10})).unwrap();
        let mut pairs = string_pairs(given).unwrap();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("limit".into(), "10".into()),
                ("period".into(), "2025-Q3".into())
            ]
        );
        let nested: Map<String, Value> = serde_json::from_value(json!({"x": {"y": 1}})).unwrap();
        assert!(string_pairs(nested).is_err());
    }
}
