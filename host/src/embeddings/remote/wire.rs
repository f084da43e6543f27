//! Response bodies shared by Azure OpenAI and OpenAI-compatible servers.

use serde::Deserialize;

use super::error::RemoteError;

#[derive(Deserialize)]
struct EmbeddingList {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// Decodes an embeddings response into vectors in input order.
pub(super) fn parse_embeddings(body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, RemoteError> {
    let list: EmbeddingList = serde_json::from_slice(body).map_err(|e| {
        RemoteError::BadResponse(format!(
            "embeddings response is not the expected JSON ({e}); body starts with: {}",
            snippet(body)
        ))
    })?;
    if list.data.len() != expected {
        return Err(RemoteError::BadResponse(format!(
            "sent {expected} texts but got {} embeddings",
            list.data.len()
        )));
    }

    // The API documents `index` as the input position and makes no promise about
    // order, so place by index; servers that omit it entirely get list order.
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    let indexed = list.data.iter().any(|item| item.index.is_some());
    for (position, item) in list.data.into_iter().enumerate() {
        let index = match (indexed, item.index) {
            (false, _) => position,
            (true, Some(i)) if i < expected => i,
            (true, Some(i)) => {
                return Err(RemoteError::BadResponse(format!(
                    "embedding index {i} is out of range for {expected} texts"
                )));
            }
            (true, None) => {
                return Err(RemoteError::BadResponse(
                    "some embeddings have an index and some do not".into(),
                ));
            }
        };
        if slots[index].replace(item.embedding).is_some() {
            return Err(RemoteError::BadResponse(format!(
                "embedding index {index} appears twice"
            )));
        }
    }
    // Count matched and no index repeated, so every slot is filled.
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();

    let dims = vectors.first().map_or(0, Vec::len);
    if !vectors.is_empty() && dims == 0 {
        return Err(RemoteError::BadResponse(
            "embeddings are empty vectors".into(),
        ));
    }
    if let Some((i, v)) = vectors.iter().enumerate().find(|(_, v)| v.len() != dims) {
        return Err(RemoteError::BadResponse(format!(
            "embedding {i} has {} dimensions, expected {dims} like the first",
            v.len()
        )));
    }
    Ok(vectors)
}

/// The human-readable part of an error body.
///
/// Understands OpenAI/Azure `{"error":{"code","message"}}`, Entra
/// `{"error":"...","error_description":"..."}` and bare `{"message":"..."}`;
/// anything else is returned as a short snippet of the raw body.
pub(super) fn error_detail(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Envelope {
        error: Option<ErrorField>,
        error_description: Option<String>,
        message: Option<String>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorField {
        Object {
            code: Option<serde_json::Value>,
            message: Option<String>,
        },
        Code(String),
    }

    let Ok(envelope) = serde_json::from_slice::<Envelope>(body) else {
        return snippet(body);
    };
    let (code, message) = match envelope.error {
        Some(ErrorField::Object { code, message }) => {
            let code = code.map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            });
            (code, message)
        }
        Some(ErrorField::Code(code)) => (Some(code), envelope.error_description),
        None => (None, envelope.message),
    };
    match (code, message) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (None, Some(message)) => message,
        (Some(code), None) => code,
        (None, None) => snippet(body),
    }
}

/// A bounded, printable prefix of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX_CHARS: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let mut out: String = text.chars().take(MAX_CHARS).collect();
    if text.chars().nth(MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_by_index() {
        let body = br#"{"object":"list","data":[
            {"object":"embedding","index":1,"embedding":[1.0,1.5]},
            {"object":"embedding","index":0,"embedding":[0.0,0.5]}],
            "model":"m","usage":{"prompt_tokens":2,"total_tokens":2}}"#;
        assert_eq!(
            parse_embeddings(body, 2).unwrap(),
            vec![vec![0.0, 0.5], vec![1.0, 1.5]]
        );
    }

    #[test]
    fn rejects_inconsistent_responses() {
        let cases: [(&[u8], usize); 6] = [
            (br#"{"data":[{"index":0,"embedding":[1.0]}]}"#, 2),
            (
                br#"{"data":[{"index":0,"embedding":[1.0]},{"index":0,"embedding":[2.0]}]}"#,
                2,
            ),
            (
                br#"{"data":[{"index":0,"embedding":[1.0]},{"index":5,"embedding":[2.0]}]}"#,
                2,
            ),
            (
                br#"{"data":[{"index":0,"embedding":[1.0]},{"index":1,"embedding":[2.0,3.0]}]}"#,
                2,
            ),
            (br#"{"data":[{"index":0,"embedding":[]}]}"#, 1),
            (b"<html>502 Bad Gateway</html>", 1),
        ];
        for (body, expected) in cases {
            let err = parse_embeddings(body, expected).unwrap_err();
            assert!(matches!(err, RemoteError::BadResponse(_)), "{err}");
        }
    }

    #[test]
    fn error_detail_shapes() {
        assert_eq!(
            error_detail(
                br#"{"error":{"code":"DeploymentNotFound","message":"no such deployment"}}"#
            ),
            "DeploymentNotFound: no such deployment"
        );
        assert_eq!(
            error_detail(
                br#"{"error":{"code":null,"message":"bad input","type":"invalid_request_error"}}"#
            ),
            "bad input"
        );
        assert_eq!(
            error_detail(br#"{"error":"invalid_client","error_description":"AADSTS7000215"}"#),
            "invalid_client: AADSTS7000215"
        );
        assert_eq!(error_detail(b"upstream gone"), "upstream gone");
        assert_eq!(error_detail(b""), "(empty body)");
        assert_eq!(error_detail(&[b'x'; 1000]).chars().count(), 301);
    }
}
