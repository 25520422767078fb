//! How a verdict reads in chat, independent of the platform: a headline with severity emoji
//! and colour, the verdict, one line per agent, the hypothesis, similar incidents and the
//! feedback buttons. Adapters turn this into Block Kit or a Discord embed.

use super::discussion::ThreadReply;
use crate::render::percent;
use engine::agents::synthesizer::severity_label;
use engine::investigation::Verdict;

/// A button under a verdict; `action` comes back when it is pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub action: &'static str,
    pub label: &'static str,
}

/// Actions the verdict buttons carry (with the investigation id as their value).
pub const CONFIRM: &str = "confirm";
pub const FALSE_POSITIVE: &str = "false_positive";
pub const EXPLAIN: &str = "explain";

/// The buttons under every verdict.
pub const VERDICT_BUTTONS: [Button; 3] = [
    Button {
        action: CONFIRM,
        label: "Confirm",
    },
    Button {
        action: FALSE_POSITIVE,
        label: "False positive",
    },
    Button {
        action: EXPLAIN,
        label: "Explain",
    },
];

/// What pressing a verdict button means, as if it had been typed in the thread.
pub fn button_reply(action: &str) -> Option<ThreadReply> {
    match action {
        CONFIRM => Some(ThreadReply::Confirm { root_cause: None }),
        FALSE_POSITIVE => Some(ThreadReply::FalsePositive),
        EXPLAIN => Some(ThreadReply::Explain { agent: None }),
        _ => None,
    }
}

/// The language model's summary at the top of a verdict.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Summary {
    /// No model configured, or its answer was not used: the statistics speak alone.
    #[default]
    None,
    /// Shown until the model answers.
    Writing,
    /// An answer that passed the grounding check, and the model that wrote it.
    Written { text: String, model: String },
}

/// Shown while the summary is being written.
pub const WRITING_SUMMARY: &str = "✍️ Writing a summary from the evidence…";

impl Summary {
    /// The line a verdict carries for this summary, if any; `bold` marks the label up as the
    /// platform writes bold text.
    pub fn line(&self, bold: impl Fn(&str) -> String) -> Option<String> {
        match self {
            Self::None => None,
            Self::Writing => Some(WRITING_SUMMARY.to_string()),
            Self::Written { text, .. } => Some(format!("{} {text}", bold("Summary:"))),
        }
    }

    /// Who wrote it, under the summary.
    pub fn credit(&self) -> Option<String> {
        match self {
            Self::Written { model, .. } => Some(format!(
                "Summary by {model}; every number and cited fact checked against this investigation's evidence."
            )),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerdictMessage {
    pub investigation_id: String,
    pub summary: Summary,
    /// "🔴 Critical · api_latency_p99 · severity 9/10 · 96% confident"
    pub headline: String,
    /// RGB colour for the severity band.
    pub colour: u32,
    pub verdict: String,
    /// (agent title with confidence, finding)
    pub agents: Vec<(String, String)>,
    pub hypothesis: String,
    /// The strongest windows, a line each, and how many more there are.
    pub windows: Vec<String>,
    pub similar: Vec<String>,
    pub buttons: Vec<Button>,
    /// The investigation page, when `ANOMALY_HUNTER_PUBLIC_URL` is set.
    pub link: Option<String>,
}

/// Emoji and colour by severity band (info, warning, error, critical).
pub fn severity_style(severity: u8, anomalous: bool) -> (&'static str, u32) {
    match (anomalous, severity) {
        (false, _) => ("🟢", 0x2EB67D),
        (true, 0..=6) => ("🟡", 0xECB22E),
        (true, 7..=8) => ("🟠", 0xE8772E),
        (true, _) => ("🔴", 0xE01E5A),
    }
}

/// "Critical · api_latency_p99 · severity 9/10 · 96% confident" (chat puts the band's emoji
/// before it, the page its colour beside it).
pub fn headline(metric: &str, severity: u8, anomalous: bool, confidence: f64) -> String {
    let status = if anomalous {
        engine::agents::pattern_analyst::capitalize(severity_label(severity))
    } else {
        "Normal".to_string()
    };
    format!(
        "{status} · {metric} · severity {severity}/10 · {} confident",
        percent(confidence)
    )
}

pub fn verdict_message(verdict: &Verdict) -> VerdictMessage {
    let (emoji, colour) = severity_style(verdict.severity, verdict.anomalous);
    let headline = headline(
        &verdict.metric,
        verdict.severity,
        verdict.anomalous,
        verdict.confidence,
    );
    VerdictMessage {
        investigation_id: verdict.id.clone(),
        summary: Summary::None,
        link: None,
        headline: format!("{emoji} {headline}"),
        colour,
        verdict: verdict.verdict.clone(),
        agents: verdict
            .agents
            .iter()
            .map(|a| {
                (
                    format!("{} ({})", a.agent.title(), percent(a.confidence)),
                    a.finding.clone(),
                )
            })
            .collect(),
        hypothesis: verdict.hypothesis.clone(),
        windows: window_lines(verdict),
        similar: verdict
            .similar_incidents
            .iter()
            .map(|s| {
                format!(
                    "{} on {} ({})",
                    s.metric,
                    &engine::series::timestamp::to_rfc3339(s.created_at)[..10],
                    s.judgement()
                )
            })
            .collect(),
        buttons: VERDICT_BUTTONS.to_vec(),
    }
}

/// Windows a chat message lists; the rest are counted (the page and the JSON list them all).
pub const CHAT_WINDOWS: usize = 3;

/// The verdict's strongest windows (it lists the one it names first, then the others
/// strongest first), a line each — "spike 2026-12-06 03:05 → 03:10 UTC, +994%, score 1.00" —
/// and "… and 4 more" when there are more.
fn window_lines(verdict: &Verdict) -> Vec<String> {
    let mut lines: Vec<String> = verdict
        .anomalies
        .iter()
        .take(CHAT_WINDOWS)
        .map(|w| {
            let (start, end) = (w.start.replace('T', " "), w.end.replace('T', " "));
            // The end's date is said only when it differs from the start's.
            let end = end.strip_prefix(&start[..11]).unwrap_or(&end);
            format!(
                "{} {} → {}, {:+.0}%, score {:.2}",
                w.kind.label(),
                start.trim_end_matches('Z'),
                end.trim_end_matches('Z'),
                w.magnitude * 100.0,
                w.score
            )
        })
        .collect();
    if let Some(more) = verdict
        .anomalies
        .len()
        .checked_sub(CHAT_WINDOWS)
        .filter(|m| *m > 0)
    {
        lines.push(format!("… and {more} more (on the investigation page)"));
    }
    lines
}

/// Cuts `text` to at most `max_chars` characters, ending in `…` when cut (chat platforms
/// reject over-long fields).
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::agents::synthesizer::Weights;
    use engine::series::csv::{parse_csv, CsvOptions};
    use engine::synthetic::demo::demo_files;

    #[test]
    fn a_demo_incident_reads_well() {
        let demo = demo_files()
            .into_iter()
            .find(|d| d.file_name == "db_query_latency.csv")
            .unwrap();
        let series = parse_csv(
            demo.csv.into_bytes(),
            "db",
            &CsvOptions::default(),
            Some("db_query_latency".into()),
        )
        .unwrap();
        let verdict = engine::investigation::investigate(&series, &[], Weights::default());
        let message = verdict_message(&verdict);
        assert!(
            message
                .headline
                .starts_with("🔴 Critical · db_query_latency · severity 9/10"),
            "{}",
            message.headline
        );
        assert_eq!(message.agents.len(), 3);
        assert!(message.agents[0].0.starts_with("Pattern Analyst ("));
        assert!(message.hypothesis.contains("Connection-pool exhaustion"));
        let actions: Vec<&str> = message.buttons.iter().map(|b| b.action).collect();
        assert_eq!(actions, vec![CONFIRM, FALSE_POSITIVE, EXPLAIN]);
    }

    #[test]
    fn chat_lists_the_three_strongest_windows_and_counts_the_rest() {
        // A day of one-minute points with five spikes of different sizes.
        let mut rng = engine::synthetic::rng::Rng::new(7);
        let timestamps: Vec<i64> = (0..1440).map(|i| 1_704_067_200_000 + i * 60_000).collect();
        let mut values: Vec<f64> = (0..1440).map(|_| 100.0 + rng.normal()).collect();
        for (at, height) in [
            (130, 150.0),
            (470, 300.0),
            (820, 120.0),
            (1010, 200.0),
            (1290, 250.0),
        ] {
            values[at] += height;
        }
        let series = engine::series::Series::from_points("api", timestamps, values).unwrap();
        let verdict = engine::investigation::investigate(&series, &[], Weights::default());
        assert_eq!(verdict.anomalies.len(), 5, "{:?}", verdict.anomalies);
        let lines = verdict_message(&verdict).windows;
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(
            lines[0], "spike 2024-01-01 07:50:00 → 07:50:00, +300%, score 1.00",
            "the largest first, its end without the date it shares"
        );
        assert_eq!(lines[3], "… and 2 more (on the investigation page)");
    }

    #[test]
    fn colours_follow_the_bands() {
        assert_eq!(severity_style(2, false).0, "🟢");
        assert_eq!(severity_style(5, true).0, "🟡");
        assert_eq!(severity_style(8, true).0, "🟠");
        assert_eq!(severity_style(10, true).0, "🔴");
    }
}
