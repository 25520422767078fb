//! A verdict as a Discord message: one embed (colour by severity, a field per agent, the
//! hypothesis, similar incidents) and a row of buttons whose `custom_id` carries the action and
//! the investigation id.

use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter};

use crate::chat::message::{truncate_chars, VerdictMessage};

/// Discord's limits: field values ≤ 1024 characters, descriptions ≤ 4096, titles ≤ 256.
const FIELD_LIMIT: usize = 1024;
const DESCRIPTION_LIMIT: usize = 4096;
const TITLE_LIMIT: usize = 256;

/// A verdict's embed and its row of buttons (the first one primary).
pub fn verdict_embed(message: &VerdictMessage) -> (CreateEmbed, CreateActionRow) {
    let mut fields: Vec<(String, String, bool)> = message
        .agents
        .iter()
        .map(|(agent, finding)| (agent.clone(), truncate_chars(finding, FIELD_LIMIT), false))
        .collect();
    fields.push((
        "Hypothesis".into(),
        truncate_chars(&message.hypothesis, FIELD_LIMIT),
        false,
    ));
    if !message.windows.is_empty() {
        let windows = truncate_chars(&message.windows.join("\n"), FIELD_LIMIT);
        fields.push(("Windows (UTC)".into(), windows, false));
    }
    if !message.similar.is_empty() {
        let similar = truncate_chars(&message.similar.join("\n"), FIELD_LIMIT);
        fields.push(("Seen before".into(), similar, false));
    }
    let description = match message.summary.line(|label| format!("**{label}**")) {
        Some(line) => format!("{line}\n\n{}", message.verdict),
        None => message.verdict.clone(),
    };
    let footer = match message.summary.credit() {
        Some(credit) => format!("investigation {} · {credit}", message.investigation_id),
        None => format!("investigation {}", message.investigation_id),
    };
    let mut embed = CreateEmbed::new()
        .title(truncate_chars(&message.headline, TITLE_LIMIT))
        .description(truncate_chars(&description, DESCRIPTION_LIMIT))
        .colour(message.colour)
        .fields(fields)
        .footer(CreateEmbedFooter::new(footer));
    if let Some(link) = &message.link {
        // The title opens the investigation page.
        embed = embed.url(link);
    }
    let buttons = message
        .buttons
        .iter()
        .enumerate()
        .map(|(i, b)| {
            CreateButton::new(format!("{}:{}", b.action, message.investigation_id))
                .label(b.label)
                .style(if i == 0 {
                    ButtonStyle::Primary
                } else {
                    ButtonStyle::Secondary
                })
        })
        .collect();
    (embed, CreateActionRow::Buttons(buttons))
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
            summary: crate::chat::message::Summary::None,
            headline: "🔴 Critical · api · severity 9/10 · 97% confident".into(),
            colour: 0xE01E5A,
            verdict: "Critical anomaly in api".into(),
            agents: vec![("Pattern Analyst (99%)".into(), "y".repeat(2000)); 3],
            hypothesis: "Pool exhausted.".into(),
            windows: vec![],
            similar: vec![],
            buttons: VERDICT_BUTTONS.to_vec(),
            link: Some("https://bot.example/investigations/inv-7".into()),
        };
        let (embed, buttons) = verdict_embed(&message);
        let embed = serde_json::to_value(embed).unwrap();
        let buttons = serde_json::to_value(buttons).unwrap();
        assert_eq!(embed["color"], 0xE01E5A);
        assert_eq!(
            embed["url"], "https://bot.example/investigations/inv-7",
            "the title opens the page"
        );
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
        assert_eq!(
            buttons["components"][1]["custom_id"],
            "false_positive:inv-7"
        );
        assert_eq!(buttons["components"][0]["style"], 1, "the first is primary");
        assert_eq!(
            parse_custom_id("false_positive:inv-7"),
            Some(("false_positive", "inv-7"))
        );
        assert_eq!(parse_custom_id("nonsense"), None);
    }
}
