//! Block Kit rendering of the neutral verdict message, in slack-morphism's block models.

use slack_morphism::prelude::*;

use crate::chat::message::{truncate_chars, Summary, VerdictMessage, CONFIRM};

/// Slack's limits: a header's text, a section's text, one of a section's fields.
const HEADER_CHARS: usize = 150;
const SECTION_CHARS: usize = 3000;
const FIELD_CHARS: usize = 2000;

fn markdown(text: &str, limit: usize) -> SlackBlockText {
    SlackBlockMarkDownText::new(truncate_chars(text, limit)).into()
}

fn section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(markdown(text, SECTION_CHARS))
        .into()
}

fn context(text: &str) -> SlackBlock {
    let text = SlackBlockMarkDownText::new(truncate_chars(text, SECTION_CHARS));
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(text)]).into()
}

/// Blocks for a verdict: header, the model's summary (when there is one), verdict, one
/// section per agent, hypothesis, similar incidents, the link to its page, and the Confirm /
/// False positive / Explain buttons (value = investigation id).
pub fn verdict_blocks(message: &VerdictMessage) -> Vec<SlackBlock> {
    let headline =
        SlackBlockPlainText::new(truncate_chars(&message.headline, HEADER_CHARS)).with_emoji(true);
    let mut blocks = vec![SlackHeaderBlock::new(headline.into()).into()];
    match (
        &message.summary,
        message.summary.line(|label| format!("*{label}*")),
    ) {
        (Summary::Writing, Some(line)) => blocks.push(context(&format!("_{line}_"))),
        (_, Some(line)) => blocks.push(section(&line)),
        (_, None) => {}
    }
    if let Some(credit) = message.summary.credit() {
        blocks.push(context(&credit));
    }
    blocks.push(section(&message.verdict));
    let fields = message
        .agents
        .iter()
        .map(|(agent, finding)| markdown(&format!("*{agent}*\n{finding}"), FIELD_CHARS))
        .collect();
    blocks.push(SlackSectionBlock::new().with_fields(fields).into());
    blocks.push(section(&format!("*Hypothesis:* {}", message.hypothesis)));
    if !message.windows.is_empty() {
        let lines: Vec<String> = message.windows.iter().map(|w| format!("• {w}")).collect();
        blocks.push(context(&format!("Windows (UTC):\n{}", lines.join("\n"))));
    }
    if !message.similar.is_empty() {
        let lines: Vec<String> = message.similar.iter().map(|s| format!("• {s}")).collect();
        blocks.push(context(&format!("Seen before:\n{}", lines.join("\n"))));
    }
    if let Some(link) = &message.link {
        blocks.push(context(&format!(
            "<{link}|Investigation page>: the chart, every agent's evidence, the feedback"
        )));
    }
    let buttons = message
        .buttons
        .iter()
        .map(|b| {
            let button = SlackBlockButtonElement::new(b.label.into())
                .with_action_id(b.action.into())
                .with_value(message.investigation_id.clone());
            let button = if b.action == CONFIRM {
                button.with_style(SlackBlockButtonStyle::Primary)
            } else {
                button
            };
            SlackActionBlockElement::Button(button)
        })
        .collect();
    let actions = SlackActionsBlock::new(buttons)
        .with_block_id(format!("verdict:{}", message.investigation_id).into());
    blocks.push(actions.into());
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::message::{VerdictMessage, VERDICT_BUTTONS};

    #[test]
    fn blocks_carry_the_verdict_and_buttons() {
        let message = VerdictMessage {
            investigation_id: "inv-1".into(),
            summary: Summary::None,
            headline: "🔴 Critical · api · severity 9/10 · 97% confident".into(),
            colour: 0xE01E5A,
            verdict: "Critical anomaly in api".into(),
            agents: vec![("Pattern Analyst (99%)".into(), "Spike.".into()); 3],
            hypothesis: "x".repeat(5000),
            windows: vec!["spike 2026-12-06 03:05 → 03:10, +994%, score 1.00".into()],
            similar: vec!["api on 2026-11-20 (confirmed: pool)".into()],
            buttons: VERDICT_BUTTONS.to_vec(),
            link: Some("https://bot.example/investigations/inv-1".into()),
        };
        let blocks = serde_json::to_value(verdict_blocks(&message)).unwrap();
        let blocks = blocks.as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 3);
        assert_eq!(
            blocks[3]["text"]["text"].as_str().unwrap().chars().count(),
            3000,
            "long texts are cut"
        );
        let windows = blocks[4]["elements"][0]["text"].as_str().unwrap();
        assert!(
            windows.starts_with("Windows (UTC):\n• spike 2026-12-06 03:05"),
            "{windows}"
        );
        let link = &blocks[blocks.len() - 2]["elements"][0]["text"];
        assert!(
            link.as_str()
                .unwrap()
                .starts_with("<https://bot.example/investigations/inv-1|"),
            "{link}"
        );
        let actions = blocks.last().unwrap();
        assert_eq!(actions["block_id"], "verdict:inv-1");
        assert_eq!(actions["elements"][0]["style"], "primary");
        assert_eq!(actions["elements"][1]["action_id"], "false_positive");
        assert_eq!(actions["elements"][1]["value"], "inv-1");
    }
}
