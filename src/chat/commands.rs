//! The command grammar shared by every platform:
//! `check [metric] [last 6h]`, `help`, `stats`, `history [metric]`, and the watches:
//! `watch <metric or PromQL> [every 1m]`, `watches`, `unwatch ID`, `snooze ID 2h`.
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
    Watch(WatchCommand),
}

/// What people ask of the watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchCommand {
    /// Score `query` every `step_ms` (default one minute) and post incidents here.
    Add {
        query: String,
        step_ms: Option<i64>,
    },
    /// This channel's watches and how they are doing.
    List,
    Remove {
        id: String,
    },
    /// Post nothing new for `for_ms`.
    Snooze {
        id: String,
        for_ms: i64,
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
    #[error("{0}")]
    BadWatch(String),
}

/// One-line usage, appended to every refusal.
pub const HELP: &str = "Try `check <metric> [last 6h]`, `check` with a CSV attached, `watch <metric> [every 1m]`, `watches`, `stats`, `history [metric]` or `help`.";

/// The full help text.
pub const HELP_TEXT: &str = "*Anomaly Hunter* investigates a metric with three statistical agents and answers in a thread.\n\
• `check <metric or PromQL> [last 6h]` — investigate a stored metric, or a Prometheus query when one is connected (optionally only its last stretch)\n\
• `check` — investigate the CSV attached to the message, or the one you shared here a moment ago\n\
• `stats` — precision, agent agreement and calibration from the team's feedback\n\
• `history [metric]` — recent investigations\n\
• `watch <metric or PromQL> [every 1m]` — score it continuously and open a thread here when it misbehaves; `watches` lists this channel's, `unwatch <id>` stops one, `snooze <id> 2h` silences one\n\
In a verdict thread: `confirm`, `false positive`, `root cause: <text>`, `explain [agent]`, `rerun`, or ask a question.";

impl Command {
    /// Stable name, as counted on `/metrics`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Check { .. } => "check",
            Self::Help => "help",
            Self::Stats => "stats",
            Self::History { .. } => "history",
            Self::Watch(WatchCommand::Add { .. }) => "watch",
            Self::Watch(WatchCommand::List) => "watches",
            Self::Watch(WatchCommand::Remove { .. }) => "unwatch",
            Self::Watch(WatchCommand::Snooze { .. }) => "snooze",
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
        "watch" => parse_watch(rest).map(Command::Watch),
        "watches" => Ok(Command::Watch(WatchCommand::List)),
        "unwatch" => match rest {
            [id] => Ok(Command::Watch(WatchCommand::Remove { id: id.to_string() })),
            _ => Err(CommandError::BadWatch(
                "`unwatch` takes a watch id, e.g. `unwatch w-1a2b3c4d` (see `watches`)".into(),
            )),
        },
        "snooze" => parse_snooze(rest).map(Command::Watch),
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

/// `<metric or PromQL> [every 1m]`: the step words are taken out, what remains is the query.
pub fn parse_watch(words: &[&str]) -> Result<WatchCommand, CommandError> {
    let mut query = Vec::new();
    let mut step_ms = None;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("every") {
            let amount = words.next().ok_or_else(|| {
                CommandError::BadWatch("`every` needs a step like 1m or 15s".into())
            })?;
            let step = parse_duration(amount).map_err(CommandError::BadWatch)?;
            if step < 1_000 {
                return Err(CommandError::BadWatch(format!(
                    "a watch's step is at least 1s, not `{amount}`"
                )));
            }
            step_ms = Some(step);
        } else {
            query.push(*word);
        }
    }
    let query = from_chat(&query.join(" "));
    if query.is_empty() {
        return Err(CommandError::BadWatch(
            "`watch` needs a metric or PromQL query, e.g. `watch http_requests_total every 1m`"
                .into(),
        ));
    }
    Ok(WatchCommand::Add { query, step_ms })
}

/// `<id> <duration>`.
fn parse_snooze(words: &[&str]) -> Result<WatchCommand, CommandError> {
    let [id, rest @ ..] = words else {
        return Err(CommandError::BadWatch(
            "`snooze` takes a watch id and a duration, e.g. `snooze w-1a2b3c4d 2h`".into(),
        ));
    };
    let for_ms = parse_duration(&rest.join(" ")).map_err(|e| {
        CommandError::BadWatch(format!("`snooze {id}` needs a duration like 2h: {e}"))
    })?;
    Ok(WatchCommand::Snooze {
        id: id.to_string(),
        for_ms,
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
    fn watch_commands() {
        assert_eq!(
            parse(
                "watch rate(http_requests_total{code=~\"5..\"}[5m]) every 15s",
                false
            ),
            Ok(Command::Watch(WatchCommand::Add {
                query: "rate(http_requests_total{code=~\"5..\"}[5m])".into(),
                step_ms: Some(15_000)
            }))
        );
        assert_eq!(
            parse("watch api_latency", true),
            Ok(Command::Watch(WatchCommand::Add {
                query: "api_latency".into(),
                step_ms: None
            }))
        );
        assert_eq!(
            parse("watches", false),
            Ok(Command::Watch(WatchCommand::List))
        );
        assert_eq!(
            parse("unwatch w-1a2b3c4d", false),
            Ok(Command::Watch(WatchCommand::Remove {
                id: "w-1a2b3c4d".into()
            }))
        );
        assert_eq!(
            parse("snooze w-1a2b3c4d 2h", false),
            Ok(Command::Watch(WatchCommand::Snooze {
                id: "w-1a2b3c4d".into(),
                for_ms: 2 * 3_600_000
            }))
        );
        for refused in [
            "watch",
            "watch api every",
            "watch api every 0s",
            "unwatch",
            "snooze w-1",
            "snooze w-1 soon",
        ] {
            assert!(
                matches!(parse(refused, false), Err(CommandError::BadWatch(_))),
                "{refused}"
            );
        }
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
