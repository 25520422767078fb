//! The three wire formats, as pure functions: the request each provider expects (strict JSON
//! asked for the provider's way) and where its answer and token counts are in the reply.
//! - OpenAI-compatible: `POST {base}/chat/completions`, `response_format` json_schema, strict.
//!   Azure: the deployment's URL, `?api-version=`, an `api-key` header.
//! - Anthropic: `POST {base}/v1/messages`, the answer forced through a tool's input schema.
//! - Ollama: `POST {base}/api/chat`, `format` = the schema, `stream: false`.

use serde_json::{json, Value};

use super::grounding::{schema, SCHEMA_NAME, SYSTEM_PROMPT};

/// Anthropic's API version header value.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The answer's length limit where a provider needs one (Anthropic requires it).
const MAX_ANSWER_TOKENS: u32 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Ollama,
}

impl Provider {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "openai" => Some(Self::OpenAi),
            "anthropic" => Some(Self::Anthropic),
            "ollama" => Some(Self::Ollama),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::Anthropic => "anthropic",
            Self::Ollama => "ollama",
        }
    }

    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::OpenAi => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com",
            Self::Ollama => "http://localhost:11434",
        }
    }
}

/// Where and how to reach the model.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub provider: Provider,
    pub base_url: String,
    pub model: String,
    /// Azure OpenAI's `api-version`; its presence selects Azure's URL and header.
    pub api_version: Option<String>,
}

/// A request, ready to send but for the key: `auth` names the header that carries it and the
/// prefix before it.
#[derive(Debug, Clone, PartialEq)]
pub struct WireRequest {
    pub url: String,
    pub auth: (&'static str, &'static str),
    pub headers: Vec<(&'static str, &'static str)>,
    pub body: Value,
}

/// What came back: the answer object (or why there is none) and the tokens it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct WireReply {
    pub answer: Result<Value, String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// The request for `user_message` (the brief as JSON).
pub fn request(endpoint: &Endpoint, user_message: &str) -> WireRequest {
    let base = endpoint.base_url.trim_end_matches('/');
    let model = &endpoint.model;
    match endpoint.provider {
        Provider::OpenAi => {
            let (url, auth) = match &endpoint.api_version {
                Some(version) => (
                    format!("{base}/chat/completions?api-version={version}"),
                    ("api-key", ""),
                ),
                None => (
                    format!("{base}/chat/completions"),
                    ("authorization", "Bearer "),
                ),
            };
            WireRequest {
                url,
                auth,
                headers: vec![],
                body: json!({
                    "model": model,
                    "messages": [
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": user_message},
                    ],
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {"name": SCHEMA_NAME, "strict": true, "schema": schema()},
                    },
                }),
            }
        }
        Provider::Anthropic => WireRequest {
            url: format!("{base}/v1/messages"),
            auth: ("x-api-key", ""),
            headers: vec![("anthropic-version", ANTHROPIC_VERSION)],
            body: json!({
                "model": model,
                "max_tokens": MAX_ANSWER_TOKENS,
                "temperature": 0,
                "system": SYSTEM_PROMPT,
                "messages": [{"role": "user", "content": user_message}],
                "tools": [{
                    "name": SCHEMA_NAME,
                    "description": "Report the grounded answer.",
                    "input_schema": schema(),
                }],
                "tool_choice": {"type": "tool", "name": SCHEMA_NAME},
            }),
        },
        Provider::Ollama => WireRequest {
            url: format!("{base}/api/chat"),
            auth: ("authorization", "Bearer "),
            headers: vec![],
            body: json!({
                "model": model,
                "stream": false,
                "format": schema(),
                "options": {"temperature": 0},
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_message},
                ],
            }),
        },
    }
}

/// Reads a provider's successful reply.
pub fn read_reply(provider: Provider, reply: &Value) -> WireReply {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    match provider {
        Provider::OpenAi => {
            let message = &reply["choices"][0]["message"];
            let answer = match (message["refusal"].as_str(), message["content"].as_str()) {
                (Some(refusal), _) => Err(format!("the model refused: {refusal}")),
                (None, Some(content)) => parse_json_text(content),
                (None, None) => Err("the reply has no choices[0].message.content".into()),
            };
            WireReply {
                answer,
                prompt_tokens: count(&reply["usage"]["prompt_tokens"]),
                completion_tokens: count(&reply["usage"]["completion_tokens"]),
            }
        }
        Provider::Anthropic => {
            let tool_input = reply["content"].as_array().and_then(|blocks| {
                blocks
                    .iter()
                    .find(|b| b["type"] == "tool_use" && b["name"] == SCHEMA_NAME)
                    .map(|b| b["input"].clone())
            });
            WireReply {
                answer: tool_input.ok_or_else(|| {
                    format!(
                        "the reply has no `{SCHEMA_NAME}` tool_use block (stop_reason {})",
                        reply["stop_reason"]
                    )
                }),
                prompt_tokens: count(&reply["usage"]["input_tokens"]),
                completion_tokens: count(&reply["usage"]["output_tokens"]),
            }
        }
        Provider::Ollama => WireReply {
            answer: match reply["message"]["content"].as_str() {
                Some(content) => parse_json_text(content),
                None => Err("the reply has no message.content".into()),
            },
            prompt_tokens: count(&reply["prompt_eval_count"]),
            completion_tokens: count(&reply["eval_count"]),
        },
    }
}

/// The JSON object a text answer holds.
fn parse_json_text(content: &str) -> Result<Value, String> {
    serde_json::from_str(content.trim()).map_err(|e| format!("the answer is not JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(provider: Provider, api_version: Option<&str>) -> Endpoint {
        Endpoint {
            provider,
            base_url: format!("{}/", provider.default_base_url()),
            model: "m".into(),
            api_version: api_version.map(str::to_string),
        }
    }

    #[test]
    fn each_provider_is_asked_for_strict_json_its_own_way() {
        let openai = request(&endpoint(Provider::OpenAi, None), "{}");
        assert_eq!(openai.url, "https://api.openai.com/v1/chat/completions");
        assert_eq!(openai.auth, ("authorization", "Bearer "));
        assert_eq!(
            openai.body["response_format"]["json_schema"]["strict"],
            true
        );
        let azure = request(&endpoint(Provider::OpenAi, Some("2024-10-21")), "{}");
        assert!(azure
            .url
            .ends_with("/chat/completions?api-version=2024-10-21"));
        assert_eq!(azure.auth.0, "api-key");
        let anthropic = request(&endpoint(Provider::Anthropic, None), "{}");
        assert_eq!(anthropic.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(anthropic.body["tool_choice"]["name"], SCHEMA_NAME);
        assert_eq!(anthropic.body["max_tokens"], MAX_ANSWER_TOKENS);
        let ollama = request(&endpoint(Provider::Ollama, None), "{}");
        assert_eq!(ollama.url, "http://localhost:11434/api/chat");
        assert_eq!(ollama.body["stream"], false);
        assert_eq!(ollama.body["format"]["required"][0], "summary");
    }

    #[test]
    fn replies_are_read_with_their_token_counts() {
        let openai = read_reply(
            Provider::OpenAi,
            &json!({"choices": [{"message": {"content": "{\"a\": 1}"}}], "usage": {"prompt_tokens": 10, "completion_tokens": 5}}),
        );
        assert_eq!(openai.answer, Ok(json!({"a": 1})));
        assert_eq!((openai.prompt_tokens, openai.completion_tokens), (10, 5));
        let refused = read_reply(
            Provider::OpenAi,
            &json!({"choices": [{"message": {"content": null, "refusal": "no"}}]}),
        );
        assert!(refused.answer.unwrap_err().contains("refused"));
        let anthropic = read_reply(
            Provider::Anthropic,
            &json!({"content": [{"type": "text", "text": "hi"}, {"type": "tool_use", "name": SCHEMA_NAME, "input": {"a": 2}}],
                    "usage": {"input_tokens": 7, "output_tokens": 3}}),
        );
        assert_eq!(anthropic.answer, Ok(json!({"a": 2})));
        assert_eq!(anthropic.prompt_tokens, 7);
        let ollama = read_reply(
            Provider::Ollama,
            &json!({"message": {"content": "not json"}, "prompt_eval_count": 4, "eval_count": 2}),
        );
        assert!(ollama.answer.unwrap_err().contains("not JSON"));
        assert_eq!(ollama.completion_tokens, 2);
    }
}
