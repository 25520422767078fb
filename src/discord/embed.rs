//! A verdict as a Discord message: one embed (colour by severity, a field per agent, the
//! hypothesis, similar incidents) and a row of buttons whose `custom_id` carries the action and
//! the investigation id.

use serde_json::{json, Value};

use crate::chat::message::{truncate_chars, VerdictMessage};

/// Discord's limits: field values ≤ 1024 characters, descriptions ≤ 4096.
const FIELD_LIMIT: usize = 1024;
const DESCRIPTION_LIMIT: usize = 4096;
/// Button style "primary" (blurple) and "secondary" (grey).
const PRIMARY: u8 = 1;
const SECONDARY: u8 = 2;

/// The message body for a verdict (`embeds` + `components`), ready for Create Message.
pub fn verdict_message_body(message: &VerdictMessage) -> Value {
    let mut fields: Vec<Value> = message
        .agents
        .iter()
        .map(|(agent, finding)| json!({"name": agent, "value": truncate_chars(finding, FIELD_LIMIT), "inline": false}))
        .collect();
    fields.push(json!({"name": "Hypothesis", "value": truncate_chars(&message.hypothesis, FIELD_LIMIT), "inline": false}));
    if !message.similar.is_empty() {
        fields.push(json!({"name": "Seen before", "value": truncate_chars(&message.similar.join("\n"), FIELD_LIMIT), "inline": false}));
    }
    let buttons: Vec<Value> = message
        .buttons
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"type": 2, "style": if i == 0 { PRIMARY } else { SECONDARY }, "label": b.label,
                   "custom_id": format!("{}:{}", b.action, message.investigation_id)})
        })
        .collect();
    json!({
        "embeds": [{
            "title": truncate_chars(&message.headline, 256),
            "description": truncate_chars(&message.verdict, DESCRIPTION_LIMIT),
            "color": message.colour,
            "fields": fields,
            "footer": {"text": format!("investigation {}", message.investigation_id)}
        }],
        "components": [{"type": 1, "components": buttons}]
    })
}

/// Splits a button's `custom_id` back into (action, investigation id).
pub fn parse_custom_id(custom_id: &str) -> Option<(&str, &str)> {
    custom_id
        .split_once(':')
        .filter(|(action, id)| !action.is_empty() && !id.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::message::VERDICT_BUTTONS;

    #[test]
    fn an_embed_with_fields_and_buttons() {
        let message = VerdictMessage {
            investigation_id: "inv-7".into(),
            headline: "🔴 Critical · api · severity 9/10 · 97% confident".into(),
            colour: 0xE01E5A,
            verdict: "Critical anomaly in api".into(),
            agents: vec![("Pattern Analyst (99%)".into(), "y".repeat(2000)); 3],
            hypothesis: "Pool exhausted.".into(),
            similar: vec![],
            buttons: VERDICT_BUTTONS.to_vec(),
        };
        let body = verdict_message_body(&message);
        let embed = &body["embeds"][0];
        assert_eq!(embed["color"], 0xE01E5A);
        assert_eq!(
            embed["fields"].as_array().unwrap().len(),
            4,
            "three agents and the hypothesis"
        );
        assert_eq!(
            embed["fields"][0]["value"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1024
        );
        let buttons = body["components"][0]["components"].as_array().unwrap();
        assert_eq!(buttons[1]["custom_id"], "false_positive:inv-7");
        assert_eq!(
            parse_custom_id("false_positive:inv-7"),
            Some(("false_positive", "inv-7"))
        );
        assert_eq!(parse_custom_id("nonsense"), None);
    }
}
