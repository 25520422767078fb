//! The command grammar shared by every platform:
//! `check [metric] [last 6h]`, `help`, `stats`, `history [metric]`.
//! Slack sends the text after `/anomaly`; Discord the text after `!check_anomaly` (where a bare
//! metric name means `check`).

use thiserror::Error;

use crate::sources::promql::from_chat;
use engine::series::timestamp::parse_duration;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Investigate a stored metric or a PromQL expression, or (neither) the CSV attached or
    /// just shared.
    Check {
        metric: Option<String>,
        lookback_ms: Option<i64>,
    },
    Help,
    Stats,
    History {
        metric: Option<String>,
    },
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CommandError {
    #[error("unknown command `{0}`. {HELP}")]
    Unknown(String),
    #[error("{0}. {HELP}")]
    BadLookback(String),
    #[error("`{0}` is not a metric name (letters, digits, `_ . : -` only). {HELP}")]
    BadMetric(String),
}

/// One-line usage, appended to every refusal.
pub const HELP: &str = "Try `check <metric> [last 6h]`, `check` with a CSV attached, `stats`, `history [metric]` or `help`.";

/// The full help text.
pub const HELP_TEXT: &str = "*Anomaly Hunter* investigates a metric with three statistical agents and answers in a thread.\n\
• `check <metric or PromQL> [last 6h]` — investigate a stored metric, or a Prometheus query when one is connected (optionally only its last stretch)\n\
• `check` — investigate the CSV attached to the message, or the one you shared here a moment ago\n\
• `stats` — precision, agent agreement and calibration from the team's feedback\n\
• `history [metric]` — recent investigations\n\
In a verdict thread: `confirm`, `false positive`, `root cause: <text>`, `explain [agent]`, `rerun`, or ask a question.";

impl Command {
    /// Stable name, as counted on `/metrics`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Check { .. } => "check",
            Self::Help => "help",
            Self::Stats => "stats",
            Self::History { .. } => "history",
        }
    }
}

/// A command that arrived on `platform`: parsed, and counted for `/metrics`.
pub fn receive(
    platform: &str,
    text: &str,
    bare_metric_is_check: bool,
) -> Result<Command, CommandError> {
    let parsed = parse(text, bare_metric_is_check);
    let name = parsed.as_ref().map_or("unknown", Command::name);
    crate::telemetry::chat_command(platform, name);
    parsed
}

/// Parses the text after the command word. `bare_metric_is_check` lets Discord's
/// `!check_anomaly api_latency` mean `check api_latency`.
pub fn parse(text: &str, bare_metric_is_check: bool) -> Result<Command, CommandError> {
    let text = super::text::visible(text);
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((first, rest)) = words.split_first() else {
        return Ok(if bare_metric_is_check {
            Command::Check {
                metric: None,
                lookback_ms: None,
            }
        } else {
            Command::Help
        });
    };
    match first.to_ascii_lowercase().as_str() {
        "check" | "investigate" | "detect" => parse_check(rest),
        "help" | "-h" | "--help" | "?" => Ok(Command::Help),
        "stats" | "status" => Ok(Command::Stats),
        "history" => Ok(Command::History {
            metric: rest.first().map(|m| metric_name(m)).transpose()?,
        }),
        _ if bare_metric_is_check => parse_check(&words),
        other => Err(CommandError::Unknown(other.to_string())),
    }
}

/// `[metric or PromQL] [last|since|--since] [6h]`: the look-back words are taken out (a
/// bare duration counts as one), and what remains, spaces included, is the target.
fn parse_check(words: &[&str]) -> Result<Command, CommandError> {
    let mut target = Vec::new();
    let mut lookback_ms = None;
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        match word.to_ascii_lowercase().as_str() {
            "last" | "since" | "--since" | "over" | "for" => {
                let amount = words.next().ok_or_else(|| {
                    CommandError::BadLookback(format!("`{word}` needs a duration like 6h"))
                })?;
                // `last 6 hours`: the number and its unit arrive as two words.
                let spelled_out = words
                    .peek()
                    .filter(|_| amount.chars().all(|c| c.is_ascii_digit()))
                    .and_then(|unit| parse_duration(&format!("{amount} {unit}")).ok());
                lookback_ms = Some(match spelled_out {
                    Some(duration) => {
                        words.next();
                        duration
                    }
                    None => parse_duration(amount).map_err(CommandError::BadLookback)?,
                });
            }
            _ => match parse_duration(word) {
                Ok(duration) if lookback_ms.is_none() => lookback_ms = Some(duration),
                _ => target.push(*word),
            },
        }
    }
    let target = from_chat(&target.join(" "));
    Ok(Command::Check {
        metric: (!target.is_empty()).then_some(target),
        lookback_ms,
    })
}

fn metric_name(word: &str) -> Result<String, CommandError> {
    let valid = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-".contains(c));
    if valid {
        Ok(word.to_string())
    } else {
        Err(CommandError::BadMetric(word.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOURS_6: i64 = 6 * 3_600_000;

    #[test]
    fn slack_style_commands() {
        assert_eq!(
            parse("check api_latency_p99 last 6h", false),
            Ok(Command::Check {
                metric: Some("api_latency_p99".into()),
                lookback_ms: Some(HOURS_6)
            })
        );
        assert_eq!(
            parse("check", false),
            Ok(Command::Check {
                metric: None,
                lookback_ms: None
            })
        );
        assert_eq!(
            parse("CHECK db.latency 6h", false),
            Ok(Command::Check {
                metric: Some("db.latency".into()),
                lookback_ms: Some(HOURS_6)
            })
        );
        assert_eq!(parse("help", false), Ok(Command::Help));
        assert_eq!(
            parse("\u{200b}check api_latency_p99 last\u{feff} 6h", false),
            parse("check api_latency_p99 last 6h", false),
            "invisible characters are not part of a word"
        );
        assert_eq!(parse("", false), Ok(Command::Help));
        assert_eq!(parse("stats", false), Ok(Command::Stats));
        assert_eq!(
            parse("history api_latency", false),
            Ok(Command::History {
                metric: Some("api_latency".into())
            })
        );
    }

    #[test]
    fn discord_bare_metric_means_check() {
        assert_eq!(
            parse("api_latency last 6h", true),
            Ok(Command::Check {
                metric: Some("api_latency".into()),
                lookback_ms: Some(HOURS_6)
            })
        );
        assert_eq!(
            parse("", true),
            Ok(Command::Check {
                metric: None,
                lookback_ms: None
            })
        );
        assert_eq!(parse("stats", true), Ok(Command::Stats));
    }

    #[test]
    fn promql_with_spaces_and_chat_escapes() {
        assert_eq!(
            parse(
                "check sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m])) last 6h",
                false
            ),
            Ok(Command::Check {
                metric: Some("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))".into()),
                lookback_ms: Some(HOURS_6)
            })
        );
        assert_eq!(
            parse(
                "check `api_latency_seconds{job=\u{201C}api\u{201D}} &gt; 0.5` 6h",
                false
            ),
            Ok(Command::Check {
                metric: Some("api_latency_seconds{job=\"api\"} > 0.5".into()),
                lookback_ms: Some(HOURS_6)
            })
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let unknown = parse("deploy everything", false).unwrap_err();
        assert_eq!(unknown, CommandError::Unknown("deploy".into()));
        assert!(unknown.to_string().contains("Try `check <metric>"));
        assert!(matches!(
            parse("check api last six", false),
            Err(CommandError::BadLookback(_))
        ));
        assert_eq!(
            parse("check api last 6 hours", false),
            Ok(Command::Check {
                metric: Some("api".into()),
                lookback_ms: Some(6 * 3_600_000)
            })
        );
        assert!(matches!(
            parse("check api last", false),
            Err(CommandError::BadLookback(_))
        ));
        assert!(matches!(
            parse("history <script>", false),
            Err(CommandError::BadMetric(_))
        ));
    }
}
