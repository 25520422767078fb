//! The readable report `anomaly-hunter detect` prints: a verdict box, one block per agent,
//! the anomalous windows.

use std::fmt::Write as _;

use engine::agents::synthesizer::severity_label;
use engine::investigation::Verdict;

/// Windows listed in the text report; JSON has all of them.
const MAX_LISTED_WINDOWS: usize = 15;

pub fn report(verdict: &Verdict) -> String {
    let mut out = String::new();
    let status = if verdict.anomalous {
        "ANOMALOUS"
    } else {
        "NORMAL"
    };
    let headline = format!(
        "{status} · {} · severity {}/10 ({}) · confidence {} · {} of 3 agents agree",
        verdict.metric,
        verdict.severity,
        severity_label(verdict.severity),
        super::percent(verdict.confidence),
        verdict.consensus
    );
    let width = headline.chars().count().max(60) + 2;
    let _ = writeln!(out, "┌{}┐", "─".repeat(width));
    for line in [headline.as_str()]
        .into_iter()
        .chain(wrap(&verdict.verdict, width - 2).iter().map(String::as_str))
    {
        let _ = writeln!(out, "│ {line:<w$} │", w = width - 2);
    }
    let _ = writeln!(out, "└{}┘", "─".repeat(width));
    let _ = writeln!(out, "Hypothesis: {}", verdict.hypothesis);
    for agent in &verdict.agents {
        let _ = writeln!(
            out,
            "\n▸ {} — confidence {}",
            agent.agent.title(),
            super::percent(agent.confidence)
        );
        let _ = writeln!(out, "  {}", agent.finding);
        for evidence in agent.evidence.iter().take(6) {
            let _ = writeln!(
                out,
                "    · {} = {} — {}",
                evidence.name, evidence.value, evidence.detail
            );
        }
    }
    if !verdict.anomalies.is_empty() {
        let _ = writeln!(out, "\nAnomalous windows:");
        for a in verdict.anomalies.iter().take(MAX_LISTED_WINDOWS) {
            let _ = writeln!(
                out,
                "  {:<18} {} → {}  score {:.2}  {:+.0}%",
                a.kind.label(),
                a.start,
                a.end,
                a.score,
                a.magnitude * 100.0
            );
        }
        if let Some(more) = verdict
            .anomalies
            .len()
            .checked_sub(MAX_LISTED_WINDOWS)
            .filter(|m| *m > 0)
        {
            let _ = writeln!(out, "  … and {more} more (all of them in --format json)");
        }
    }
    let _ = writeln!(
        out,
        "\n{} points{} · {:.2} ms · id {}",
        verdict.points,
        verdict
            .seasonality
            .as_ref()
            .map(|s| format!(" · {s} seasonality"))
            .unwrap_or_default(),
        verdict.elapsed_ms,
        verdict.id
    );
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let current = lines.last_mut().expect("lines is never empty");
        if !current.is_empty() && current.chars().count() + word.chars().count() + 1 > width {
            lines.push(word.to_string());
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
    }
    lines
}
