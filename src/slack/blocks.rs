//! Block Kit rendering of the neutral verdict message.

use serde_json::{json, Value};

use crate::chat::message::{truncate_chars, VerdictMessage};

/// Blocks for a verdict: header, verdict, one section per agent, hypothesis, similar
/// incidents, and the Confirm / False positive / Explain buttons (value = investigation id).
pub fn verdict_blocks(message: &VerdictMessage) -> Value {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate_chars(&message.headline, 150), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate_chars(&message.verdict, 3000)}}),
    ];
    let fields: Vec<Value> = message
        .agents
        .iter()
        .map(|(agent, finding)| json!({"type": "mrkdwn", "text": truncate_chars(&format!("*{agent}*\n{finding}"), 2000)}))
        .collect();
    blocks.push(json!({"type": "section", "fields": fields}));
    blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate_chars(&format!("*Hypothesis:* {}", message.hypothesis), 3000)}}));
    if !message.similar.is_empty() {
        let lines: Vec<String> = message.similar.iter().map(|s| format!("• {s}")).collect();
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate_chars(&format!("Seen before:\n{}", lines.join("\n")), 3000)}]}));
    }
    let buttons: Vec<Value> = message
        .buttons
        .iter()
        .map(|b| {
            let mut button = json!({"type": "button", "action_id": b.action, "value": message.investigation_id, "text": {"type": "plain_text", "text": b.label}});
            if b.action == crate::chat::message::CONFIRM {
                button["style"] = json!("primary");
            }
            button
        })
        .collect();
    blocks.push(json!({"type": "actions", "block_id": format!("verdict:{}", message.investigation_id), "elements": buttons}));
    Value::Array(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::message::{VerdictMessage, VERDICT_BUTTONS};

    #[test]
    fn blocks_carry_the_verdict_and_buttons() {
        let message = VerdictMessage {
            investigation_id: "inv-1".into(),
            headline: "🔴 Critical · api · severity 9/10 · 97% confident".into(),
            colour: 0xE01E5A,
            verdict: "Critical anomaly in api".into(),
            agents: vec![("Pattern Analyst (99%)".into(), "Spike.".into()); 3],
            hypothesis: "x".repeat(5000),
            similar: vec!["api on 2026-11-20 (confirmed: pool)".into()],
            buttons: VERDICT_BUTTONS.to_vec(),
        };
        let blocks = verdict_blocks(&message);
        let blocks = blocks.as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), 3);
        assert_eq!(
            blocks[3]["text"]["text"].as_str().unwrap().chars().count(),
            3000,
            "long texts are cut"
        );
        let actions = blocks.last().unwrap();
        assert_eq!(actions["elements"][1]["action_id"], "false_positive");
        assert_eq!(actions["elements"][1]["value"], "inv-1");
    }
}
