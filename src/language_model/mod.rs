//! The optional language model. The statistics decide; a model only words what they found: a
//! two-sentence summary edited into each verdict, and answers to questions in its thread. It
//! sees the verdict's evidence with ids (`evidence`), must answer in a strict schema and cite
//! those ids, and an answer with an unknown id or a number the evidence does not hold is
//! rejected in code (`grounding`). Three wire formats (`wire`), one retry on 429/5xx, a circuit
//! breaker and a daily token budget (`guard`). Off unless `LLM_MODEL` is set.

pub mod evidence;
pub mod figures;
pub mod grounding;
pub mod guard;
pub mod wire;

use std::time::{Duration, Instant};

use backon::Retryable as _;
use serde_json::Value;

use crate::config::LlmSettings;
use evidence::Brief;
use grounding::{GroundedAnswer, Rejection};
use guard::{Guard, Skip};
use wire::{Endpoint, Provider, WireRequest};

/// The longest `Retry-After` waited for before the one retry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);

/// Where the model is and what it may cost, from the `LLM_*` settings.
#[derive(Clone)]
pub struct ModelConfig {
    pub endpoint: Endpoint,
    api_key: Option<String>,
    pub timeout: Duration,
    pub daily_tokens: u64,
    /// Send a downsampled copy of the series with each summary request.
    pub send_series: bool,
}

impl std::fmt::Debug for ModelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelConfig")
            .field("provider", &self.endpoint.provider)
            .field("base_url", &self.endpoint.base_url)
            .field("model", &self.endpoint.model)
            .finish_non_exhaustive()
    }
}

impl ModelConfig {
    /// The model's configuration, or `None` when `LLM_MODEL` is not set.
    pub fn from_settings(settings: &LlmSettings) -> anyhow::Result<Option<Self>> {
        let Some(model) = settings.llm_model.clone() else {
            return Ok(None);
        };
        let config = Self::with_model(settings, model)?;
        let hosted =
            settings.llm_base_url.is_none() && config.endpoint.provider != Provider::Ollama;
        if hosted && !config.has_key() {
            anyhow::bail!(
                "LLM_MODEL is set but LLM_API_KEY is not: {} needs a key (or set LLM_BASE_URL to a server that needs none)",
                config.endpoint.base_url
            );
        }
        Ok(Some(config))
    }

    /// The configuration as it would be with `model`, key or not (`llm preview` shows the
    /// request before anything is configured).
    pub fn with_model(settings: &LlmSettings, model: String) -> anyhow::Result<Self> {
        let provider = Provider::parse(&settings.llm_provider)
            .ok_or_else(|| anyhow::anyhow!("LLM_PROVIDER must be openai, anthropic or ollama"))?;
        if settings.llm_api_version.is_some() && provider != Provider::OpenAi {
            anyhow::bail!(
                "LLM_API_VERSION is for Azure OpenAI (LLM_PROVIDER=openai), not {}",
                provider.name()
            );
        }
        if settings.llm_timeout < 1_000 {
            anyhow::bail!("LLM_TIMEOUT must be at least 1s");
        }
        Ok(Self {
            endpoint: Endpoint {
                provider,
                base_url: settings
                    .llm_base_url
                    .clone()
                    .unwrap_or_else(|| provider.default_base_url().to_string()),
                model,
                api_version: settings.llm_api_version.clone(),
            },
            api_key: settings.llm_api_key.clone(),
            timeout: Duration::from_millis(settings.llm_timeout as u64),
            daily_tokens: settings.llm_daily_tokens,
            send_series: settings.llm_send_series,
        })
    }

    /// Whether a key is configured (shown by `llm preview`, never the key).
    pub fn has_key(&self) -> bool {
        self.api_key.is_some()
    }
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Accepted(GroundedAnswer),
    /// The model answered, but not from the evidence.
    Rejected(Rejection),
    /// No usable answer: timeout, HTTP error, malformed reply.
    Failed(String),
    /// Not sent.
    Skipped(Skip),
}

impl Outcome {
    /// Stable label, as counted on `/metrics` and in `stats`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Accepted(_) => "accepted",
            Self::Rejected(_) => "rejected",
            Self::Failed(_) => "failed",
            Self::Skipped(_) => "skipped",
        }
    }

    /// Why it was not accepted, as a short label.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Self::Accepted(_) => None,
            Self::Rejected(rejection) => Some(rejection.reason()),
            Self::Failed(_) => Some("failed"),
            Self::Skipped(skip) => Some(skip.reason()),
        }
    }

    pub fn accepted(&self) -> Option<&GroundedAnswer> {
        match self {
            Self::Accepted(answer) => Some(answer),
            _ => None,
        }
    }
}

/// One request and its cost.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub outcome: Outcome,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency: Duration,
    /// Attempts that failed and were tried again before the one `outcome` is of: the model
    /// received each, so each is counted and recorded.
    pub retried: Vec<RetriedAttempt>,
}

/// An attempt that failed (a 429, a 5xx) and was tried again.
#[derive(Debug, Clone, PartialEq)]
pub struct RetriedAttempt {
    pub error: String,
    pub latency: Duration,
}

/// A configured model: its endpoint, an HTTP client and the guard.
pub struct LanguageModel {
    config: ModelConfig,
    http: reqwest::Client,
    guard: Guard,
}

/// A failed attempt: whether trying once more may help, and when.
#[derive(Debug)]
struct Attempt {
    message: String,
    retryable: bool,
    retry_after: Option<Duration>,
    /// How long the attempt took.
    elapsed: Duration,
}

impl LanguageModel {
    pub fn new(config: ModelConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the model's HTTP client: {e}"))?;
        Ok(Self {
            guard: Guard::new(config.daily_tokens),
            config,
            http,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The request `brief` becomes (what `llm preview` prints).
    pub fn request_for(&self, brief: &Brief) -> WireRequest {
        wire::request(&self.config.endpoint, &brief.to_message())
    }

    /// Asks the model about `brief` (for investigation `investigation_id`, named in the log)
    /// and checks the answer against it.
    pub async fn ask(&self, brief: &Brief, investigation_id: &str) -> Exchange {
        let started = Instant::now();
        let day = chrono::Utc::now().timestamp().div_euclid(86_400);
        let provider = self.config.endpoint.provider;
        let exchange = match self.guard.admit(started, day) {
            Err(skip) => Exchange {
                outcome: Outcome::Skipped(skip),
                prompt_tokens: 0,
                completion_tokens: 0,
                latency: Duration::ZERO,
                retried: Vec::new(),
            },
            Ok(()) => {
                let mut exchange = self.exchange(brief).await;
                exchange.latency = started.elapsed();
                let answered = !matches!(exchange.outcome, Outcome::Failed(_));
                let tokens = exchange.prompt_tokens + exchange.completion_tokens;
                self.guard.record(answered, tokens, Instant::now(), day);
                exchange
            }
        };
        for attempt in &exchange.retried {
            crate::telemetry::model_exchange(
                provider.name(),
                "failed",
                Some("failed"),
                0,
                0,
                Some(attempt.latency),
            );
        }
        crate::telemetry::model_exchange(
            provider.name(),
            exchange.outcome.label(),
            exchange.outcome.reason(),
            exchange.prompt_tokens,
            exchange.completion_tokens,
            (!matches!(exchange.outcome, Outcome::Skipped(_))).then_some(exchange.latency),
        );
        match &exchange.outcome {
            Outcome::Failed(error) => tracing::warn!(
                %error,
                provider = provider.name(),
                investigation = investigation_id,
                "no answer from the language model; the statistics' text stands"
            ),
            Outcome::Rejected(rejection) => tracing::warn!(
                reason = rejection.reason(),
                detail = %rejection,
                provider = provider.name(),
                investigation = investigation_id,
                "the language model's answer was rejected; the statistics' text stands"
            ),
            Outcome::Accepted(_) | Outcome::Skipped(_) => {}
        }
        exchange
    }

    async fn exchange(&self, brief: &Brief) -> Exchange {
        let request = self.request_for(brief);
        let provider = self.config.endpoint.provider;
        let (sent, retried) = self.send(&request).await;
        let body = match sent {
            Ok(body) => body,
            Err(e) => {
                return Exchange {
                    outcome: Outcome::Failed(e),
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    latency: Duration::ZERO,
                    retried,
                }
            }
        };
        let reply = wire::read_reply(provider, &body);
        let outcome = match reply.answer {
            Err(e) => Outcome::Failed(e),
            Ok(answer) => match grounding::check(answer, brief) {
                Ok(answer) => Outcome::Accepted(answer),
                Err(rejection) => Outcome::Rejected(rejection),
            },
        };
        Exchange {
            outcome,
            prompt_tokens: reply.prompt_tokens,
            completion_tokens: reply.completion_tokens,
            latency: Duration::ZERO,
            retried,
        }
    }

    /// POSTs the request; a 429 or 5xx is tried once more (after the server's `Retry-After`,
    /// up to 10 s, or a short backoff). Also returns the attempts that were tried again.
    /// Errors never carry the key.
    async fn send(&self, request: &WireRequest) -> (Result<Value, String>, Vec<RetriedAttempt>) {
        let retried = std::sync::Mutex::new(Vec::new());
        let attempt = || async {
            let started = Instant::now();
            self.attempt(request).await.map_err(|mut e| {
                e.elapsed = started.elapsed();
                e
            })
        };
        let sent = attempt
            .retry(
                crate::retry::backoff(Duration::from_millis(500), MAX_RETRY_WAIT).with_max_times(1),
            )
            .when(|e| e.retryable)
            // `pause` is `None` once the one retry is spent: then stop, whatever the server says.
            .adjust(|e, pause| pause.map(|p| e.retry_after.unwrap_or(p)))
            .notify(|e, wait| {
                tracing::info!(error = %e.message, ?wait, "model API busy; trying once more");
                if let Ok(mut retried) = retried.lock() {
                    retried.push(RetriedAttempt {
                        error: e.message.clone(),
                        latency: e.elapsed,
                    });
                }
            })
            .await
            .map_err(|e| e.message);
        (sent, retried.into_inner().unwrap_or_default())
    }

    /// One POST of the request.
    async fn attempt(&self, request: &WireRequest) -> Result<Value, Attempt> {
        let mut post = self.http.post(&request.url).json(&request.body);
        for (name, value) in &request.headers {
            post = post.header(*name, *value);
        }
        if let Some(key) = &self.config.api_key {
            let (header, prefix) = request.auth;
            post = post.header(header, format!("{prefix}{key}"));
        }
        let response = post.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status();
        if status.is_success() {
            return response.json::<Value>().await.map_err(|e| Attempt {
                message: format!("the reply is not JSON: {}", e.without_url()),
                retryable: false,
                retry_after: None,
                elapsed: Duration::ZERO,
            });
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s).min(MAX_RETRY_WAIT));
        let text = crate::retry::refusal_text(response).await;
        Err(Attempt {
            message: format!("the model API answered {status}: {text}"),
            retryable: status.as_u16() == 429 || status.is_server_error(),
            retry_after,
            elapsed: Duration::ZERO,
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> Attempt {
        let message = if e.is_timeout() {
            format!(
                "no answer within {} (LLM_TIMEOUT)",
                humantime::format_duration(self.config.timeout)
            )
        } else {
            format!("cannot reach the model API: {}", e.without_url())
        };
        Attempt {
            message,
            retryable: false,
            retry_after: None,
            elapsed: Duration::ZERO,
        }
    }
}
