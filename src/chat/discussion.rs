//! The incident-room conversation in a verdict thread: what a reply asks for, and answers
//! built from the stored evidence (which agent saw what), never invented.

use crate::language_model::evidence::Brief;
use crate::language_model::grounding::GroundedAnswer;
use crate::render::percent;
use engine::agents::AgentName;
use engine::learning::SimilarIncident;

/// What a reply in a verdict thread asks the bot to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadReply {
    Confirm {
        root_cause: Option<String>,
    },
    FalsePositive,
    RootCause(String),
    Explain {
        agent: Option<AgentName>,
    },
    Rerun,
    Help,
    /// A question for the bot, answered from the evidence.
    Question(String),
    /// Talk between people: the bot stays quiet.
    Ignore,
}

impl ThreadReply {
    /// Stable name, as counted on `/metrics` (`None` for talk the bot stays out of).
    pub fn name(&self) -> Option<&'static str> {
        Some(match self {
            Self::Confirm { .. } => "confirm",
            Self::FalsePositive => "false_positive",
            Self::RootCause(_) => "root_cause",
            Self::Explain { .. } => "explain",
            Self::Rerun => "rerun",
            Self::Help => "help",
            Self::Question(_) => "question",
            Self::Ignore => return None,
        })
    }
}

/// Reads a reply. Keywords count at the start of the message (after any mention of the bot);
/// other text is a question only when the bot was mentioned or it ends with `?`.
pub fn parse_reply(text: &str, mentions_bot: bool) -> ThreadReply {
    let visible = super::text::visible(text);
    let text = strip_mentions(&visible);
    // ASCII lower-casing keeps every byte where it was, so offsets found in `lower` are valid
    // in `text` (full Unicode lower-casing changes lengths: the Kelvin sign `K` becomes `k`).
    let lower = text.to_ascii_lowercase();
    let after = |prefix_len: usize| {
        text[prefix_len..]
            .trim_start_matches([':', ',', ' ', '-', '—'])
            .trim()
            .to_string()
    };
    if let Some(len) = prefix(&lower, &["root cause", "rootcause", "root-cause", "cause"]) {
        let cause = after(len);
        return if cause.is_empty() {
            ThreadReply::Help
        } else {
            ThreadReply::RootCause(cause)
        };
    }
    if prefix(
        &lower,
        &[
            "false positive",
            "false-positive",
            "false alarm",
            "fp",
            "not an incident",
        ],
    )
    .is_some()
    {
        return ThreadReply::FalsePositive;
    }
    if let Some(len) = prefix(&lower, &["confirmed", "confirm", "ack", "real"]) {
        let rest = after(len);
        let root_cause = rest
            .strip_prefix("root cause")
            .or_else(|| rest.strip_prefix("Root cause"))
            .map(|c| c.trim_start_matches([':', ' ']).trim().to_string())
            .filter(|c| !c.is_empty());
        return ThreadReply::Confirm { root_cause };
    }
    if let Some(len) = prefix(&lower, &["explain", "why"]) {
        if lower.starts_with("why") && lower.len() > 3 && !mentions_bot && !lower.ends_with('?') {
            return ThreadReply::Ignore;
        }
        return ThreadReply::Explain {
            agent: agent_named(&lower[len..]),
        };
    }
    if prefix(&lower, &["rerun", "re-run", "again", "retry"]).is_some() {
        return ThreadReply::Rerun;
    }
    if prefix(&lower, &["help"]).is_some() {
        return ThreadReply::Help;
    }
    if mentions_bot || lower.trim_end().ends_with('?') {
        return ThreadReply::Question(text.trim().to_string());
    }
    ThreadReply::Ignore
}

/// Length of the first keyword that starts `lower` as a whole word.
fn prefix(lower: &str, keywords: &[&str]) -> Option<usize> {
    keywords.iter().find_map(|k| {
        let rest = lower.strip_prefix(k)?;
        rest.chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric())
            .then_some(k.len())
    })
}

/// Removes platform mentions (`<@U123ABC>`, `<@!123>`, `@anomaly-hunter`) from the text.
fn strip_mentions(text: &str) -> &str {
    let mut rest = text.trim();
    loop {
        let next = if rest.starts_with("<@") {
            rest.find('>').map(|end| &rest[end + 1..])
        } else if rest.starts_with('@') {
            Some(
                rest.find(char::is_whitespace)
                    .map_or("", |end| &rest[end..]),
            )
        } else {
            None
        };
        match next {
            Some(after) => rest = after.trim_start_matches([',', ':']).trim(),
            None => return rest,
        }
    }
}

fn agent_named(text: &str) -> Option<AgentName> {
    let text = text.to_lowercase();
    if text.contains("pattern") || text.contains("outlier") {
        Some(AgentName::PatternAnalyst)
    } else if text.contains("change") || text.contains("detective") {
        Some(AgentName::ChangeDetective)
    } else if text.contains("root") || text.contains("cause") {
        Some(AgentName::RootCause)
    } else {
        None
    }
}

/// Explains a stored verdict: one agent in full (finding and top evidence), or all three.
pub fn explain(verdict: &serde_json::Value, agent: Option<AgentName>) -> String {
    let agents = verdict["agents"].as_array().cloned().unwrap_or_default();
    let chosen: Vec<&serde_json::Value> = agents
        .iter()
        .filter(|a| agent.is_none_or(|wanted| a["agent"] == wanted.id()))
        .collect();
    let mut text = String::new();
    for a in chosen {
        let title = agent_title(a["agent"].as_str().unwrap_or(""));
        let confidence = percent(a["confidence"].as_f64().unwrap_or(0.0));
        text.push_str(&format!(
            "*{title}* ({confidence} confident): {}\n",
            a["finding"].as_str().unwrap_or("")
        ));
        let evidence = a["evidence"].as_array().cloned().unwrap_or_default();
        for e in evidence.iter().take(if agent.is_some() { 8 } else { 3 }) {
            text.push_str(&format!(
                "  • {} = {} — {}\n",
                e["name"].as_str().unwrap_or(""),
                e["value"],
                e["detail"].as_str().unwrap_or("")
            ));
        }
    }
    if agent.is_none() {
        text.push_str(&format!(
            "*Hypothesis:* {}",
            verdict["hypothesis"].as_str().unwrap_or("")
        ));
    }
    text.trim_end().to_string()
}

/// Answers a free question from the stored verdict: "when" goes to the Change Detective,
/// "why / cause" to the Root Cause Agent, "how big / how bad / spike" to the Pattern Analyst,
/// "seen before / similar" to the incident history; anything else gets the summary.
pub fn answer(verdict: &serde_json::Value, question: &str) -> String {
    let q = question.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| q.contains(w));
    if has(&["seen", "before", "similar", "history", "last time"]) {
        let similar: Vec<SimilarIncident> =
            serde_json::from_value(verdict["similar_incidents"].clone()).unwrap_or_default();
        if similar.is_empty() {
            return "Nothing like this is on record yet.".to_string();
        }
        let lines: Vec<String> = similar
            .iter()
            .map(|s| format!("• {} ({})", s.metric, s.judgement()))
            .collect();
        return format!(
            "{} similar incident(s):\n{}",
            similar.len(),
            lines.join("\n")
        );
    }
    let agent = if has(&["when", "start", "change", "deploy", "since"]) {
        Some(AgentName::ChangeDetective)
    } else if has(&["why", "cause", "root", "because", "what happened"]) {
        Some(AgentName::RootCause)
    } else if has(&[
        "how big",
        "how bad",
        "spike",
        "outlier",
        "severity",
        "magnitude",
        "how much",
    ]) {
        Some(AgentName::PatternAnalyst)
    } else {
        None
    };
    match agent {
        Some(agent) => explain(verdict, Some(agent)),
        None => format!(
            "{}\n{}",
            verdict["verdict"].as_str().unwrap_or(""),
            explain(verdict, None)
        ),
    }
}

/// A model's summary as it shows at the top of a verdict: the summary and the first thing to
/// check.
pub fn summary_text(answer: &GroundedAnswer) -> String {
    let mut text = answer.summary.trim().to_string();
    if let Some(step) = answer.next_steps.first() {
        text.push_str(&format!(" Check first: {}", step.trim()));
    }
    text
}

/// A model's grounded answer in the thread: the answer, each claim with the ids it cites,
/// what to check, caveats, and what each cited id is, so anyone can check the claim.
pub fn grounded_answer(answer: &GroundedAnswer, brief: &Brief) -> String {
    let mut text = answer.summary.trim().to_string();
    for claim in &answer.claims {
        text.push_str(&format!(
            "\n• {} [{}]",
            claim.text.trim(),
            claim.evidence_ids.join(", ")
        ));
    }
    if !answer.next_steps.is_empty() {
        text.push_str(&format!("\n*Check:* {}", answer.next_steps.join("; ")));
    }
    if !answer.caveats.is_empty() {
        text.push_str(&format!("\n_Caveats:_ {}", answer.caveats.join("; ")));
    }
    let mut cited: Vec<&str> = answer
        .claims
        .iter()
        .flat_map(|c| c.evidence_ids.iter().map(|id| id.trim()))
        .collect();
    cited.sort_by_key(|id| id.trim_start_matches('E').parse::<usize>().unwrap_or(0));
    cited.dedup();
    let described: Vec<String> = cited
        .iter()
        .filter_map(|id| brief.evidence.iter().find(|item| item["id"] == *id))
        .map(describe_evidence)
        .collect();
    if !described.is_empty() {
        text.push_str(&format!("\n_Evidence:_ {}", described.join("; ")));
    }
    text
}

/// One evidence item in a few words: `E3 change_detective shift_ratio = 3.07`.
fn describe_evidence(item: &serde_json::Value) -> String {
    let id = item["id"].as_str().unwrap_or("?");
    let s = |v: &serde_json::Value| match v {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    if let Some(statistic) = item.get("statistic") {
        format!(
            "{id} {} {} = {}",
            s(&item["agent"]),
            s(statistic),
            s(&item["value"])
        )
    } else if let Some(finding) = item.get("finding") {
        format!(
            "{id} {}: {}",
            agent_title(item["agent"].as_str().unwrap_or("")),
            s(finding)
        )
    } else if let Some(window) = item.get("window") {
        format!(
            "{id} {} {} → {}",
            s(&item["kind"]).replace('_', " "),
            s(&window["start"]),
            s(&window["end"])
        )
    } else if let Some(incident) = item.get("similar_incident") {
        format!(
            "{id} similar incident on {} {} ({})",
            s(&incident["metric"]),
            s(&incident["day"]),
            s(&incident["people_said"])
        )
    } else if let Some(feedback) = item.get("thread_feedback") {
        format!("{id} feedback in this thread: {}", s(feedback))
    } else {
        id.to_string()
    }
}

fn agent_title(id: &str) -> &'static str {
    match id {
        "pattern_analyst" => AgentName::PatternAnalyst.title(),
        "change_detective" => AgentName::ChangeDetective.title(),
        _ => AgentName::RootCause.title(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_at_the_start_after_a_mention() {
        assert_eq!(
            parse_reply("confirm", false),
            ThreadReply::Confirm { root_cause: None }
        );
        assert_eq!(
            parse_reply(
                "<@U0BOT> confirmed, root cause: pgbouncer pool too small",
                false
            ),
            ThreadReply::Confirm {
                root_cause: Some("pgbouncer pool too small".into())
            }
        );
        assert_eq!(
            parse_reply("false positive", false),
            ThreadReply::FalsePositive
        );
        assert_eq!(
            parse_reply("\u{200b}false positive", false),
            ThreadReply::FalsePositive,
            "behind a zero-width space"
        );
        assert_eq!(
            parse_reply("\u{200e}con\u{200d}firm", false),
            ThreadReply::Confirm { root_cause: None },
            "with bidi marks and joiners"
        );
        assert_eq!(
            parse_reply("FP - that was the batch job", false),
            ThreadReply::FalsePositive
        );
        assert_eq!(
            parse_reply("root cause: bad deploy of v2.3", false),
            ThreadReply::RootCause("bad deploy of v2.3".into())
        );
        assert_eq!(
            parse_reply("explain change detective", false),
            ThreadReply::Explain {
                agent: Some(AgentName::ChangeDetective)
            }
        );
        assert_eq!(
            parse_reply("@anomaly-hunter explain", false),
            ThreadReply::Explain { agent: None }
        );
        assert_eq!(parse_reply("rerun", false), ThreadReply::Rerun);
        assert_eq!(parse_reply("help", false), ThreadReply::Help);
    }

    #[test]
    fn letters_that_change_length_when_lower_cased_never_panic() {
        // The Kelvin sign (3 bytes) lower-cases to `k` (1 byte); `İ` grows instead.
        assert_eq!(
            parse_reply("AC\u{212A}", true),
            ThreadReply::Question("AC\u{212A}".into())
        );
        assert!(matches!(
            parse_reply("ACK \u{212A}\u{212A}", false),
            ThreadReply::Confirm { .. }
        ));
        for text in [
            "\u{212A}",
            "İİİ root cause",
            "root cause: İstanbul DC",
            "ẞ?",
        ] {
            let _ = parse_reply(text, true);
        }
        assert_eq!(
            parse_reply("root cause: İstanbul DC", false),
            ThreadReply::RootCause("İstanbul DC".into())
        );
    }

    #[test]
    fn people_talking_among_themselves_are_left_alone() {
        assert_eq!(
            parse_reply("looking into it now", false),
            ThreadReply::Ignore
        );
        assert_eq!(
            parse_reply("confirmation pending from DBA", false),
            ThreadReply::Ignore,
            "a keyword must be a whole word"
        );
        assert_eq!(
            parse_reply("did it start after the deploy?", false),
            ThreadReply::Question("did it start after the deploy?".into())
        );
        assert_eq!(
            parse_reply("<@U0BOT> what changed", true),
            ThreadReply::Question("what changed".into())
        );
    }

    fn stored_verdict() -> serde_json::Value {
        serde_json::json!({
            "verdict": "Critical anomaly in db: level shift",
            "hypothesis": "Connection-pool exhaustion suspected.",
            "agents": [
                {"agent": "pattern_analyst", "confidence": 0.99, "finding": "Spike at 08:17.", "evidence": [{"name": "max_robust_z", "value": 20.4, "detail": "largest |z|"}]},
                {"agent": "change_detective", "confidence": 0.97, "finding": "Level shift of +307% at 08:21.", "evidence": []},
                {"agent": "root_cause", "confidence": 0.7, "finding": "Pool exhausted.", "evidence": []}
            ],
            "similar_incidents": [{"id": "inv-1", "metric": "db", "created_at": 1_700_000_000_000i64, "distance": 0.1,
                                   "pattern": "connection_pool_exhaustion", "feedback": "confirmed", "root_cause": "pgbouncer"}]
        })
    }

    #[test]
    fn answers_come_from_the_right_agent() {
        let v = stored_verdict();
        assert!(answer(&v, "when did it start?").contains("Level shift of +307%"));
        assert!(answer(&v, "why?").contains("Pool exhausted"));
        assert!(answer(&v, "how big was the spike?").contains("max_robust_z"));
        assert!(answer(&v, "have we seen this before?").contains("confirmed: pgbouncer"));
        let summary = answer(&v, "thoughts");
        assert!(summary.contains("Critical anomaly") && summary.contains("Hypothesis"));
        assert!(explain(&v, Some(AgentName::PatternAnalyst))
            .starts_with("*Pattern Analyst* (≥ 99% confident)"));
    }
}
