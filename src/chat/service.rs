//! What the bot does for a chat command or a thread reply, whatever the platform: the
//! adapters call these and only render the results.

use std::sync::Arc;

use crate::http::links::PageLinks;
use crate::language_model::evidence::{Brief, Task};
use crate::language_model::{Exchange, LanguageModel, Outcome};
use crate::pipeline::{investigate_and_record, Origin};
use crate::render::{chart, percent};
use crate::sinks::voice::{Voice, VoiceClip};
use crate::sources::prometheus_check::{Fetched, PrometheusSource, MAX_SERIES};
use crate::sources::promql::is_metric_name;
use crate::store::{ModelAnswerRecord, NewFeedback, Store, StoreError};
use engine::agents::AgentName;
use engine::investigation::Verdict;
use engine::learning::threshold::describe_change;
use engine::learning::FeedbackVerdict;
use engine::series::csv::{parse_csv, CsvOptions, Limits};
use engine::series::Series;

use super::admission::{Admission, Ticket, WorkLimits};
use super::attachment::{Attachment, Fetcher};
use super::discussion::{self, ThreadReply};
use super::message::{verdict_message, Summary, VerdictMessage};

/// Who said something, and where.
#[derive(Debug, Clone)]
pub struct Speaker {
    pub user: String,
    /// `slack`, `discord`.
    pub platform: &'static str,
}

/// The neutral service behind every chat platform.
#[derive(Clone)]
pub struct ChatService {
    store: Arc<Store>,
    limits: Limits,
    voice: Option<Arc<Voice>>,
    prometheus: Option<Arc<PrometheusSource>>,
    admission: Arc<Admission>,
    /// Words the verdicts and answers questions, from the evidence only; optional.
    model: Option<Arc<LanguageModel>>,
    /// Links to the investigation pages, posted with each verdict.
    page_links: PageLinks,
}

/// An investigation's outcome for posting: the verdict and the series (for the chart).
pub struct Investigated {
    pub verdict: Verdict,
    pub series: Series,
    /// When a query returned several series: the others, worst first, posted under the
    /// verdict.
    pub others: Option<OtherSeries>,
}

/// The other series of a query, one line each, and what was left out.
pub struct OtherSeries {
    /// A header line, then one line per series.
    pub table: Vec<String>,
    /// Series beyond [`MAX_SERIES`], not investigated.
    pub left_out: usize,
}

impl OtherSeries {
    /// For a terminal: the table as plain lines.
    pub fn plain(&self) -> String {
        self.text(&self.table.join("\n"))
    }

    /// For chat: the table in a code block, so its columns line up.
    pub fn markdown(&self) -> String {
        self.text(&format!("```\n{}\n```", self.table.join("\n")))
    }

    fn text(&self, table: &str) -> String {
        let mut text = format!("Other series of this query, worst first:\n{table}");
        if self.left_out > 0 {
            text.push_str(&format!(
                "\n{} more series not investigated (at most {MAX_SERIES} per query): narrow the query with labels, or `topk()`.",
                self.left_out
            ));
        }
        text
    }
}

/// The verdict's chart as a PNG file to attach.
pub struct Chart {
    pub filename: String,
    pub png: Vec<u8>,
}

impl Investigated {
    /// Draws the chart (series, baseline band, anomalous windows).
    pub async fn chart(&self) -> Result<Chart, String> {
        let verdict = &self.verdict;
        let title = chart::title(&verdict.metric, verdict.severity, verdict.confidence);
        let png = chart::png_in_time(verdict.chart.clone(), verdict.metric.clone(), title)
            .await
            .map_err(|e| e.to_string())?;
        let short_id: String = verdict.id.chars().take(8).collect();
        Ok(Chart {
            filename: format!("{}-{short_id}.png", verdict.metric),
            png,
        })
    }
}

/// What the bot says to a reply in a verdict thread.
pub enum ThreadAnswer {
    /// Small talk between people: stay out of it.
    Quiet,
    Text(String),
    /// `rerun`: a fresh verdict for the same metric, to post in the thread.
    Verdict(Box<Investigated>),
}

impl ChatService {
    pub fn new(store: Arc<Store>, limits: Limits) -> Self {
        Self {
            store,
            limits,
            voice: None,
            prometheus: None,
            admission: Arc::new(Admission::new(WorkLimits::default())),
            model: None,
            page_links: PageLinks::new(None, None),
        }
    }

    /// Each verdict posted links to its investigation page (when the links have a public URL).
    pub fn with_page_links(mut self, links: PageLinks) -> Self {
        self.page_links = links;
        self
    }

    /// The verdict as every chat platform shows it, with the link to its page.
    pub fn verdict_message(&self, verdict: &Verdict) -> VerdictMessage {
        let mut message = verdict_message(verdict);
        message.link = self.page_links.url(&verdict.id);
        message
    }

    /// A language model summarises verdicts and answers questions in their threads.
    pub fn with_language_model(mut self, model: LanguageModel) -> Self {
        self.model = Some(Arc::new(model));
        self
    }

    /// The verdict message to post and, when a model is configured, its summary to edit in
    /// later: a future to await after posting (it may take seconds) that yields the summary,
    /// or `Summary::None` when the answer was not used and the statistics' text stands. Until
    /// then the message says a summary is being written.
    pub fn verdict_to_post(
        &self,
        investigated: &Investigated,
    ) -> (
        VerdictMessage,
        Option<impl std::future::Future<Output = Summary> + Send + 'static>,
    ) {
        let mut message = self.verdict_message(&investigated.verdict);
        let summary = self.summarize(investigated);
        if summary.is_some() {
            message.summary = Summary::Writing;
        }
        (message, summary)
    }

    fn summarize(
        &self,
        investigated: &Investigated,
    ) -> Option<impl std::future::Future<Output = Summary> + Send + 'static> {
        let model = self.model.clone()?;
        let verdict = serde_json::to_value(&investigated.verdict).ok()?;
        let mut brief = Brief::new(&Task::Summary, &verdict, &[]);
        if model.config().send_series {
            let series = &investigated.series;
            brief = brief.with_series(&series.timestamps, &series.values);
        }
        let service = self.clone();
        let id = investigated.verdict.id.clone();
        Some(async move {
            let exchange = model.ask(&brief, &id).await;
            service
                .record_exchange(&id, "summary", &model, &exchange)
                .await;
            match exchange.outcome.accepted() {
                Some(answer) => Summary::Written {
                    text: discussion::summary_text(answer),
                    model: model.config().endpoint.model.clone(),
                },
                None => Summary::None,
            }
        })
    }

    /// Answers a question in a verdict's thread: from the model when one is configured and its
    /// answer is grounded, else from the stored evidence by rule.
    async fn answer_question(
        &self,
        investigation_id: &str,
        question: &str,
    ) -> Result<String, StoreError> {
        let stored = self.store.investigation(investigation_id).await?;
        let Some(model) = &self.model else {
            return Ok(discussion::answer(&stored.verdict, question));
        };
        let remarks = self.store.remarks(investigation_id).await?;
        let brief = Brief::new(
            &Task::Question(question.to_string()),
            &stored.verdict,
            &remarks,
        );
        let exchange = model.ask(&brief, investigation_id).await;
        self.record_exchange(investigation_id, "question", model, &exchange)
            .await;
        Ok(match exchange.outcome.accepted() {
            Some(answer) => discussion::grounded_answer(answer, &brief),
            None => discussion::answer(&stored.verdict, question),
        })
    }

    /// Keeps what each attempt of a model request cost and what became of it (for `stats`);
    /// a store failure is logged, the answer stands.
    async fn record_exchange(
        &self,
        investigation_id: &str,
        purpose: &'static str,
        model: &LanguageModel,
        exchange: &Exchange,
    ) {
        let endpoint = &model.config().endpoint;
        let record = |outcome: &'static str, reason: Option<String>| ModelAnswerRecord {
            investigation_id: investigation_id.to_string(),
            purpose,
            provider: endpoint.provider.name(),
            model: endpoint.model.clone(),
            outcome,
            reason,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0.0,
            answer: None,
        };
        let retried = exchange.retried.iter().map(|attempt| ModelAnswerRecord {
            latency_ms: attempt.latency.as_secs_f64() * 1000.0,
            ..record("failed", Some(format!("{} (tried again)", attempt.error)))
        });
        let last = ModelAnswerRecord {
            prompt_tokens: exchange.prompt_tokens,
            completion_tokens: exchange.completion_tokens,
            latency_ms: exchange.latency.as_secs_f64() * 1000.0,
            answer: exchange
                .outcome
                .accepted()
                .and_then(|a| serde_json::to_value(a).ok()),
            ..record(
                exchange.outcome.label(),
                match &exchange.outcome {
                    Outcome::Failed(e) => Some(e.clone()),
                    other => other.reason().map(str::to_string),
                },
            )
        };
        for record in retried.chain(std::iter::once(last)) {
            if let Err(e) = self.store.record_model_answer(&record).await {
                tracing::warn!(error = %e, "could not record the model's answer");
            }
        }
    }

    /// How many investigations run at once and wait, and the rate limits of chat commands.
    pub fn with_work_limits(mut self, limits: WorkLimits) -> Self {
        self.admission = Arc::new(Admission::new(limits));
        self
    }

    /// True for the first delivery of `key` across every replica sharing the store (platform
    /// retries, one message delivered as two event types, a gateway replaying after a
    /// resume). When the store cannot say, the delivery is answered: twice beats never.
    pub async fn first_delivery(&self, key: &str) -> bool {
        match self.store.claim_delivery(key).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!("cannot record delivery {key}: {e}");
                true
            }
        }
    }

    /// A place in the investigation queue for a person's command, or the polite refusal to
    /// post instead (over a rate limit, or too busy).
    pub fn admit(&self, platform: &str, user: &str, channel: &str) -> Result<Ticket, String> {
        self.admission.admit(platform, user, channel)
    }

    /// Checks of names the store does not hold, and of PromQL, go to Prometheus.
    pub fn with_prometheus(mut self, source: PrometheusSource) -> Self {
        self.prometheus = Some(Arc::new(source));
        self
    }

    /// Prometheus, when one is connected.
    pub fn prometheus(&self) -> Option<&PrometheusSource> {
        self.prometheus.as_deref()
    }

    /// Critical verdicts also get a spoken alert in their thread.
    pub fn with_voice(mut self, voice: Voice) -> Self {
        self.voice = Some(Arc::new(voice));
        self
    }

    /// The spoken alert for a verdict loud enough to deserve one. A synthesis failure is
    /// logged and yields `None`: the verdict stands without it.
    pub async fn voice_alert(&self, verdict: &Verdict) -> Option<VoiceClip> {
        match self.voice.as_ref()?.alert(verdict).await? {
            Ok(clip) => Some(clip),
            Err(e) => {
                tracing::warn!(error = %e, investigation = %verdict.id, "no voice alert; the verdict stands without it");
                None
            }
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Investigates `target`, a metric name or a PromQL expression, over its last
    /// `lookback_ms`: a name the store holds from the store (what was ingested or streamed on
    /// purpose), anything else from Prometheus when it is configured. Errors are sentences.
    pub async fn check(
        &self,
        target: &str,
        lookback_ms: Option<i64>,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        let failed = |e: String| format!("Could not investigate `{target}`: {e}");
        let stored = is_metric_name(target)
            && self
                .store
                .latest_point(target)
                .await
                .map_err(|e| failed(e.to_string()))?
                .is_some();
        match &self.prometheus {
            Some(_) if !stored => self
                .check_query(target, lookback_ms, None, origin)
                .await
                .map_err(failed),
            None if !is_metric_name(target) => Err(format!(
                "`{target}` is not a stored metric name (letters, digits, `_ . : -`); PromQL queries need PROMETHEUS_URL to be set"
            )),
            _ => self
                .check_metric(target, lookback_ms, origin)
                .await
                .map_err(|e| failed(e.to_string())),
        }
    }

    /// Investigates every series a Prometheus query returns (up to [`MAX_SERIES`]) over the
    /// `lookback_ms` before `end_ms` (default: now); the worst comes back with a table of the
    /// others.
    pub async fn check_query(
        &self,
        query: &str,
        lookback_ms: Option<i64>,
        end_ms: Option<i64>,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        let Some(prometheus) = &self.prometheus else {
            return Err("PromQL queries need PROMETHEUS_URL to be set".to_string());
        };
        let end_ms = end_ms.unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        let fetched = prometheus
            .fetch(query, lookback_ms, end_ms)
            .await
            .map_err(|e| e.to_string())?;
        let Fetched {
            series,
            returned,
            too_short,
        } = fetched;
        let mut investigated = Vec::with_capacity(series.len());
        for (series, events) in series {
            let verdict = investigate_and_record(&self.store, &series, &events, origin)
                .await
                .map_err(|e| e.to_string())?;
            investigated.push(Investigated {
                verdict,
                series,
                others: None,
            });
        }
        investigated.sort_by(|a, b| worst_first(&a.verdict, &b.verdict));
        if investigated.is_empty() {
            return Err(format!(
                "none of its {returned} series has the {} points an investigation needs in that range",
                engine::series::MIN_POINTS
            ));
        }
        let mut worst = investigated.remove(0);
        worst.others = others_table(&investigated, returned, &too_short);
        Ok(worst)
    }

    /// Investigates a stored metric, optionally only its last `lookback_ms`.
    pub async fn check_metric(
        &self,
        metric: &str,
        lookback_ms: Option<i64>,
        origin: &Origin,
    ) -> Result<Investigated, StoreError> {
        let series = self.store.recent_series(metric, lookback_ms).await?;
        let events = self.store.events_for(&series).await?;
        let verdict = investigate_and_record(&self.store, &series, &events, origin).await?;
        Ok(Investigated {
            verdict,
            series,
            others: None,
        })
    }

    /// Investigates an uploaded CSV (bytes already size-checked while downloading). The metric
    /// is named `metric`, or after the file.
    pub async fn check_file(
        &self,
        name: &str,
        bytes: Vec<u8>,
        metric: Option<&str>,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        let metric = metric.map(str::to_string).or_else(|| {
            std::path::Path::new(name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        });
        let options = CsvOptions {
            limits: self.limits,
            ..CsvOptions::default()
        };
        // Parsing up to ANOMALY_HUNTER_MAX_BYTES is CPU work: off the async workers.
        let series = crate::pipeline::compute(|| parse_csv(bytes, name, &options, metric))
            .map_err(|e| e.to_string())?;
        self.check_series(series, origin).await
    }

    /// Investigates a series already read (a parsed upload, JSON points from the API), with
    /// the events the store holds around it (as `detect FILE` does).
    pub async fn check_series(
        &self,
        series: Series,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        let recorded = async {
            let events = self.store.events_for(&series).await?;
            investigate_and_record(&self.store, &series, &events, origin).await
        };
        let verdict = recorded.await.map_err(|e| e.to_string())?;
        Ok(Investigated {
            verdict,
            series,
            others: None,
        })
    }

    /// A place in the investigation queue without per-person rate limits (the HTTP API,
    /// whose callers hold the API token), or the "busy" refusal.
    pub fn ticket(&self) -> Result<Ticket, String> {
        self.admission.ticket()
    }

    /// Investigates an attached file: refuses what is not a CSV or too large, fetches it
    /// (within the size limit) and investigates it. Errors are sentences for the sender.
    pub async fn check_attachment(
        &self,
        attachment: &Attachment,
        fetcher: &Fetcher,
        metric: Option<&str>,
        origin: &Origin,
    ) -> Result<Investigated, String> {
        let limit = self.limits.max_bytes;
        if let Some(refusal) = attachment.refusal(limit) {
            return Err(refusal);
        }
        let name = &attachment.name;
        let url = attachment.url.as_deref().unwrap_or_default();
        let bytes = fetcher
            .fetch(url, limit)
            .await
            .map_err(|e| format!("Could not fetch `{name}`: {e}"))?;
        self.check_file(name, bytes, metric, origin)
            .await
            .map_err(|e| format!("Could not investigate `{name}`: {e}"))
    }

    /// Answers a reply in the thread of `investigation_id`.
    pub async fn reply(
        &self,
        investigation_id: &str,
        reply: ThreadReply,
        speaker: &Speaker,
    ) -> Result<ThreadAnswer, StoreError> {
        let feedback = |verdict, root_cause| NewFeedback {
            investigation_id: investigation_id.to_string(),
            verdict,
            root_cause,
            author: Some(speaker.user.clone()),
            platform: Some(speaker.platform.to_string()),
        };
        if let Some(name) = reply.name() {
            crate::telemetry::chat_command(speaker.platform, name);
        }
        let answer = match reply {
            ThreadReply::Ignore => return Ok(ThreadAnswer::Quiet),
            ThreadReply::Rerun => {
                let metric = self.store.investigation(investigation_id).await?.metric;
                let ticket = match self.admission.ticket() {
                    Ok(ticket) => ticket,
                    Err(busy) => return Ok(ThreadAnswer::Text(busy)),
                };
                let origin = Origin::new(speaker.platform);
                return Ok(match ticket.run(self.check(&metric, None, &origin)).await {
                    Ok(investigated) => ThreadAnswer::Verdict(Box::new(investigated)),
                    Err(e) => ThreadAnswer::Text(e),
                });
            }
            ThreadReply::Help => super::commands::HELP_TEXT.to_string(),
            ThreadReply::Confirm { root_cause } => {
                let cause = root_cause.clone();
                self.store
                    .add_feedback(feedback(FeedbackVerdict::Confirmed, root_cause))
                    .await?;
                match cause {
                    Some(c) => format!("Thanks — recorded as confirmed, root cause “{c}”. I'll cite it when this comes back."),
                    None => "Thanks — recorded as confirmed.".to_string(),
                }
            }
            ThreadReply::RootCause(cause) => {
                self.store
                    .add_feedback(feedback(FeedbackVerdict::Confirmed, Some(cause.clone())))
                    .await?;
                format!("Recorded root cause “{cause}”; I'll cite it when a similar incident comes back.")
            }
            ThreadReply::FalsePositive => {
                let on_watch = self.tolerate_on_watch(investigation_id).await?;
                let recorded = match self
                    .store
                    .add_feedback(feedback(FeedbackVerdict::FalsePositive, None))
                    .await
                {
                    Ok(outcome) => {
                        let change = describe_change(
                            &outcome.metric,
                            outcome.threshold_before,
                            outcome.threshold_after,
                        );
                        format!(
                            "Recorded as a false positive. {}",
                            change.unwrap_or_else(|| format!(
                                "`{}` stays as quiet as it already was.",
                                outcome.metric
                            ))
                        )
                    }
                    Err(StoreError::NotAnAlert(_)) if on_watch.is_some() => {
                        "Recorded as a false positive.".to_string()
                    }
                    Err(StoreError::NotAnAlert(_)) => {
                        "This verdict did not alert, so there is nothing to mark as a false positive."
                            .to_string()
                    }
                    Err(e) => return Err(e),
                };
                match on_watch {
                    Some(sentence) => format!("{recorded} {sentence}"),
                    None => recorded,
                }
            }
            ThreadReply::Explain { agent } => discussion::explain(
                &self.store.investigation(investigation_id).await?.verdict,
                agent,
            ),
            ThreadReply::Question(question) => {
                self.answer_question(investigation_id, &question).await?
            }
        };
        Ok(ThreadAnswer::Text(answer))
    }

    /// Explains a verdict (the Explain button).
    pub async fn explain(
        &self,
        investigation_id: &str,
        agent: Option<AgentName>,
    ) -> Result<String, StoreError> {
        Ok(discussion::explain(
            &self.store.investigation(investigation_id).await?.verdict,
            agent,
        ))
    }

    pub async fn stats_text(&self) -> Result<String, StoreError> {
        Ok(format!("```\n{}```", self.store.stats().await?))
    }

    pub async fn history_text(&self, metric: Option<&str>) -> Result<String, StoreError> {
        let entries = self.store.history(metric, 10).await?;
        if entries.is_empty() {
            return Ok("No investigations yet.".to_string());
        }
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                format!(
                    "• {} `{}` {} sev {} ({}){}",
                    &e.created_at[..16],
                    e.metric,
                    if e.anomalous { "ANOMALOUS" } else { "normal" },
                    e.severity,
                    percent(e.confidence),
                    e.feedback
                        .as_deref()
                        .map(|f| format!(" — {}", f.replace('_', " ")))
                        .unwrap_or_default()
                )
            })
            .collect();
        Ok(lines.join("\n"))
    }
}

/// Alerts before normal verdicts, then by severity and confidence.
fn worst_first(a: &Verdict, b: &Verdict) -> std::cmp::Ordering {
    (b.anomalous, b.severity)
        .cmp(&(a.anomalous, a.severity))
        .then(b.confidence.total_cmp(&a.confidence))
}

/// The other series of a query, worst first, one line each, and what was not investigated.
fn others_table(
    others: &[Investigated],
    returned: usize,
    too_short: &[String],
) -> Option<OtherSeries> {
    let left_out = returned.saturating_sub(MAX_SERIES);
    if others.is_empty() && too_short.is_empty() && left_out == 0 {
        return None;
    }
    let mut table = vec!["sev  conf  verdict    series".to_string()];
    for other in others {
        let verdict = &other.verdict;
        table.push(format!(
            "{:<4} {:<5} {:<10} {}",
            verdict.severity,
            percent(verdict.confidence),
            if verdict.anomalous {
                "ANOMALOUS"
            } else {
                "normal"
            },
            verdict.metric
        ));
    }
    for name in too_short {
        table.push(format!("-    -     too short  {name}"));
    }
    Some(OtherSeries { table, left_out })
}
