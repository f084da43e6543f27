//! Malformed input gets a JSON-RPC error, not a bare HTTP status: bodies over
//! the cap (413), bodies that are not JSON (-32700), and JSON that is not a
//! JSON-RPC message we accept (-32600 / -32602), all with HTTP 400 or 413.
//! Well-formed messages pass on to rmcp untouched.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use serde_json::{Value, json};

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;
pub const METHOD_NOT_FOUND: i64 = -32601;
/// MCP: a standard header contradicts the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// MCP: the protocol version is not one served this way.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// Methods MCP 2026-07-28 removed (stateless: no handshake, no session
/// pings or log levels, `subscriptions/listen` instead of subscribe). A
/// request of that revision naming one is "method not found" (HTTP 404), as
/// the specification says, however its params look.
const REMOVED_IN_2026: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// The first protocol revision without a handshake.
const STATELESS_REVISION: &str = "2026-07-28";

/// Client-to-server request methods of the MCP specification.
const STANDARD_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "server/discover",
    "subscriptions/listen",
];

/// Checks what the headers say against the body, whatever the protocol
/// revision (rmcp checks them only for 2026-07-28): a proxy or gateway that
/// routes or authorises on `Mcp-Method` / `Mcp-Name` must see what runs. And
/// a request that carries a handshake-era revision in its `_meta` is refused,
/// session header or not: that revision exists only inside a session, and
/// rmcp would serve the request statelessly.
fn check_headers(headers: &http::HeaderMap, message: &Value) -> Result<(), Rejection> {
    let Value::Object(message) = message else {
        return Ok(());
    };
    let id = message.get("id").cloned();
    let mismatch = |text: String| Rejection {
        code: HEADER_MISMATCH,
        id: id.clone(),
        message: text,
    };
    let method = message.get("method").and_then(Value::as_str);
    let params = message.get("params");
    if let Some(header) = single(headers, "mcp-method").map_err(mismatch)?
        && Some(header.as_str()) != method
    {
        return Err(mismatch(format!(
            "Mcp-Method header `{header}` does not match the body's method `{}`",
            method.unwrap_or("(none)")
        )));
    }
    if let Some(header) = single(headers, "mcp-name").map_err(mismatch)? {
        let field = match method {
            Some("tools/call" | "prompts/get") => "name",
            Some("resources/read") => "uri",
            _ => {
                return Err(mismatch(format!(
                    "Mcp-Name is not sent with `{}`",
                    method.unwrap_or("(none)")
                )));
            }
        };
        let named = params.and_then(|p| p.get(field)).and_then(Value::as_str);
        if Some(header.as_str()) != named {
            return Err(mismatch(format!(
                "Mcp-Name header `{header}` does not match the body's {field}"
            )));
        }
    }
    let revision = params
        .and_then(|p| p.pointer("/_meta/io.modelcontextprotocol~1protocolVersion"))
        .and_then(Value::as_str);
    // With or without a session header: rmcp serves any request that
    // carries its own revision statelessly, so a handshake-era revision
    // there would be served outside the session it names.
    if let Some(revision) = revision
        && revision < STATELESS_REVISION
        && method != Some("initialize")
    {
        return Err(Rejection {
            code: UNSUPPORTED_PROTOCOL_VERSION,
            id: id.clone(),
            message: format!(
                "Unsupported protocol version: MCP {revision} is served in a session (initialize \
                 first); requests without a session use {STATELESS_REVISION}"
            ),
        });
    }
    Ok(())
}

/// The one value of header `name`, if present; two values, or one that is
/// not text, are refused.
fn single(headers: &http::HeaderMap, name: &str) -> Result<Option<String>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("more than one {name} header"));
    }
    first
        .to_str()
        .map(|v| Some(v.to_string()))
        .map_err(|_| format!("unreadable {name} header"))
}

/// A JSON-RPC error object as an HTTP response.
pub fn error_response(status: StatusCode, id: Option<Value>, code: i64, message: &str) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": id.unwrap_or(Value::Null),
        "error": { "code": code, "message": message },
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Why a body is not a message we accept: (JSON-RPC code, request id, text).
#[derive(Debug, PartialEq)]
pub struct Rejection {
    pub code: i64,
    pub id: Option<Value>,
    pub message: String,
}

impl Rejection {
    /// The HTTP status that goes with the JSON-RPC error.
    pub fn status(&self) -> StatusCode {
        if self.code == METHOD_NOT_FOUND {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// The JSON-RPC method and id of a request that passed [`check_body`], for
/// the layers after it.
#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub method: String,
    pub id: Option<Value>,
}

/// Checks one POSTed body; says which request it is (`None` for
/// notifications and responses).
pub fn validate(body: &[u8]) -> Result<Option<RpcRequest>, Rejection> {
    parse(body).map(|(request, _)| request)
}

/// [`validate`], also giving back the parsed message.
fn parse(body: &[u8]) -> Result<(Option<RpcRequest>, Value), Rejection> {
    let value: Value = serde_json::from_slice(body).map_err(|e| Rejection {
        code: PARSE_ERROR,
        id: None,
        message: format!("Parse error: the body is not valid JSON ({e})"),
    })?;
    let reject = |code, id: Option<&Value>, message: String| Rejection {
        code,
        id: id.cloned(),
        message,
    };
    let Value::Object(object) = &value else {
        let what = if value.is_array() {
            "batches are not supported; send one JSON-RPC message per request"
        } else {
            "the body must be a JSON-RPC message object"
        };
        return Err(reject(
            INVALID_REQUEST,
            None,
            format!("Invalid Request: {what}"),
        ));
    };
    let id = object.get("id");
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(reject(
            INVALID_REQUEST,
            id,
            r#"Invalid Request: "jsonrpc" must be "2.0""#.into(),
        ));
    }
    let method = object.get("method").and_then(Value::as_str);
    let revision = object
        .get("params")
        .and_then(|p| p.pointer("/_meta/io.modelcontextprotocol~1protocolVersion"))
        .and_then(Value::as_str);
    if let (Some(method), Some(revision)) = (method, revision)
        && revision >= STATELESS_REVISION
        && REMOVED_IN_2026.contains(&method)
    {
        return Err(reject(
            METHOD_NOT_FOUND,
            id,
            format!(
                "Method not found: `{method}` is not part of MCP {revision} (stateless: use \
                 server/discover and subscriptions/listen)"
            ),
        ));
    }
    let message = serde_json::from_value::<ClientJsonRpcMessage>(value.clone()).map_err(|e| {
        let code = if object.get("method").is_some_and(Value::is_string) {
            INVALID_PARAMS
        } else {
            INVALID_REQUEST
        };
        let kind = if code == INVALID_PARAMS {
            "Invalid params"
        } else {
            "Invalid Request"
        };
        reject(code, id, format!("{kind}: {e}"))
    })?;
    // rmcp parses a standard method whose params do not fit as a "custom"
    // request, which would then be answered "method not found". Say what is
    // really wrong instead.
    if let ClientJsonRpcMessage::Request(request) = &message
        && let ClientRequest::CustomRequest(custom) = &request.request
        && STANDARD_METHODS.contains(&custom.method.as_str())
    {
        return Err(reject(
            INVALID_PARAMS,
            id,
            format!(
                "Invalid params for `{}`: see the MCP schema for this method",
                custom.method
            ),
        ));
    }
    let request = match &message {
        ClientJsonRpcMessage::Request(_) => {
            object
                .get("method")
                .and_then(Value::as_str)
                .map(|method| RpcRequest {
                    method: method.to_string(),
                    id: id.cloned(),
                })
        }
        _ => None,
    };
    Ok((request, value))
}

/// What a POSTed body may cost.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max_bytes: usize,
    /// The whole body must arrive within this (a body sent a byte a second
    /// would otherwise hold its connection and buffer forever).
    pub timeout: std::time::Duration,
}

/// Middleware for POST `/mcp`: caps the body and validates it.
pub async fn check_body(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let max_bytes = limits.max_bytes;
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            INVALID_REQUEST,
            &format!("Invalid Request: the body exceeds {max_bytes} bytes"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(limits.timeout, to_bytes(body, max_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => return too_large(),
        Err(_elapsed) => {
            return error_response(
                StatusCode::REQUEST_TIMEOUT,
                None,
                INVALID_REQUEST,
                &format!(
                    "Invalid Request: the body did not arrive within {} s",
                    limits.timeout.as_secs_f64()
                ),
            );
        }
    };
    let request = match parse(&bytes).and_then(|(request, message)| {
        check_headers(&parts.headers, &message)?;
        Ok(request)
    }) {
        Ok(request) => request,
        Err(rejection) => {
            tracing::debug!(code = rejection.code, "malformed JSON-RPC refused");
            return error_response(
                rejection.status(),
                rejection.id,
                rejection.code,
                &rejection.message,
            );
        }
    };
    let mut request_out = Request::from_parts(parts, Body::from(bytes));
    if let Some(rpc) = request {
        request_out.extensions_mut().insert(rpc);
    }
    next.run(request_out).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_json_is_a_parse_error() {
        assert_eq!(validate(b"{not json").unwrap_err().code, PARSE_ERROR);
        assert_eq!(validate(b"").unwrap_err().code, PARSE_ERROR);
    }

    #[test]
    fn wrong_shapes_are_invalid_requests() {
        assert_eq!(validate(b"[]").unwrap_err().code, INVALID_REQUEST);
        assert_eq!(validate(b"42").unwrap_err().code, INVALID_REQUEST);
        let no_version = validate(br#"{"id":7,"method":"ping"}"#).unwrap_err();
        assert_eq!(
            (no_version.code, no_version.id),
            (INVALID_REQUEST, Some(json!(7)))
        );
    }

    #[test]
    fn bad_params_name_the_request() {
        let bad =
            validate(br#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":5}}"#)
                .unwrap_err();
        assert_eq!((bad.code, bad.id), (INVALID_PARAMS, Some(json!("a"))));
    }

    #[test]
    fn methods_removed_in_2026_are_not_found() {
        let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}"#;
        for method in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
        ] {
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":9,"method":"{method}","params":{{{meta}}}}}"#);
            let rejection = validate(body.as_bytes()).unwrap_err();
            assert_eq!(
                (rejection.code, rejection.status()),
                (METHOD_NOT_FOUND, StatusCode::NOT_FOUND)
            );
        }
        // The same methods in the handshake era are served.
        validate(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
    }

    #[test]
    fn real_messages_pass() {
        validate(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#).unwrap();
        validate(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        validate(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}"#)
            .unwrap();
    }
}
