//! The figures a text states — plain numbers, durations, times of day, dates — told apart, so
//! that each is checked as what it is: `14:55` is a time, not the numbers 14 and 55;
//! `2026-11-20T08:15:00Z` is a date and a time, not 2026, 11, 20…; `E34` is a name.

use chrono::{DateTime, NaiveDate, Timelike};

/// One figure found in a text.
#[derive(Debug, Clone, PartialEq)]
pub enum Figure {
    /// A plain number (a percentage is a number followed by `%`), with the decimals it was
    /// written with.
    Number {
        text: String,
        value: f64,
        decimals: i32,
    },
    /// A number with a unit of time: `42 minutes`, `1.5 h`, `300ms`.
    Duration {
        text: String,
        value: f64,
        decimals: i32,
        unit_ms: f64,
    },
    /// A time of day, `HH:MM` (seconds, when written, are not compared).
    Clock { text: String, minute_of_day: u32 },
    /// A calendar date, `YYYY-MM-DD`, with its time of day when one follows.
    Date {
        text: String,
        day: NaiveDate,
        minute_of_day: Option<u32>,
    },
}

impl Figure {
    /// The figure as it was written.
    pub fn text(&self) -> &str {
        match self {
            Self::Number { text, .. }
            | Self::Duration { text, .. }
            | Self::Clock { text, .. }
            | Self::Date { text, .. } => text,
        }
    }
}

/// Units of time a number may carry, longest names first, with their length in ms.
const UNITS: [(&str, f64); 19] = [
    ("milliseconds", 1.0),
    ("millisecond", 1.0),
    ("seconds", 1e3),
    ("second", 1e3),
    ("minutes", 6e4),
    ("minute", 6e4),
    ("hours", 3.6e6),
    ("hour", 3.6e6),
    ("days", 8.64e7),
    ("day", 8.64e7),
    ("weeks", 6.048e8),
    ("week", 6.048e8),
    ("mins", 6e4),
    ("min", 6e4),
    ("hrs", 3.6e6),
    ("ms", 1.0),
    ("s", 1e3),
    ("h", 3.6e6),
    ("d", 8.64e7),
];

/// Every figure in `text`, in order. Digits that belong to a name (`E3`, `p99`, `http2`,
/// `v1.2`) are no figure.
pub fn figures(text: &str) -> Vec<Figure> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let in_name = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        let (figure, end) = date_at(&chars, i)
            .or_else(|| clock_at(&chars, i))
            .unwrap_or_else(|| number_at(&chars, i));
        if !in_name {
            found.extend(figure);
        }
        i = end.max(i + 1);
    }
    found
}

/// `YYYY-MM-DD`, and a time after `T` or a space, and seconds, fraction and zone after that.
fn date_at(chars: &[char], start: usize) -> Option<(Option<Figure>, usize)> {
    let digits = |from: usize, n: usize| -> Option<u32> {
        let run: String = chars.get(from..from + n)?.iter().collect();
        run.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| run.parse().ok())
            .flatten()
    };
    let year = digits(start, 4)?;
    (chars.get(start + 4) == Some(&'-')).then_some(())?;
    let month = digits(start + 5, 2)?;
    (chars.get(start + 7) == Some(&'-')).then_some(())?;
    let day_of_month = digits(start + 8, 2)?;
    let day = NaiveDate::from_ymd_opt(year as i32, month, day_of_month)?;
    let mut end = start + 10;
    let mut minute_of_day = None;
    if matches!(chars.get(end), Some('T') | Some(' ')) {
        if let Some((
            Some(Figure::Clock {
                minute_of_day: m, ..
            }),
            clock_end,
        )) = clock_at(chars, end + 1)
        {
            minute_of_day = Some(m);
            end = clock_end;
            if chars.get(end) == Some(&'.') {
                end += 1;
                while chars.get(end).is_some_and(char::is_ascii_digit) {
                    end += 1;
                }
            }
            if chars.get(end) == Some(&'Z') {
                end += 1;
            } else if matches!(chars.get(end), Some('+') | Some('-'))
                && digits(end + 1, 2).is_some()
            {
                end += 3;
                if chars.get(end) == Some(&':') && digits(end + 1, 2).is_some() {
                    end += 3;
                }
            }
        }
    }
    let text: String = chars[start..end].iter().collect();
    Some((
        Some(Figure::Date {
            text,
            day,
            minute_of_day,
        }),
        end,
    ))
}

/// `H:MM` or `HH:MM`, with `:SS` when written.
fn clock_at(chars: &[char], start: usize) -> Option<(Option<Figure>, usize)> {
    let two = |from: usize| -> Option<u32> {
        let run: String = chars.get(from..from + 2)?.iter().collect();
        run.chars()
            .all(|c| c.is_ascii_digit())
            .then(|| run.parse().ok())
            .flatten()
    };
    let hour_digits = if chars.get(start + 1).is_some_and(char::is_ascii_digit) {
        2
    } else {
        1
    };
    let hour: u32 = chars[start..start + hour_digits]
        .iter()
        .collect::<String>()
        .parse()
        .ok()?;
    let colon = start + hour_digits;
    (chars.get(colon) == Some(&':')).then_some(())?;
    let minute = two(colon + 1)?;
    let mut end = colon + 3;
    if chars.get(end) == Some(&':') && two(end + 1).is_some_and(|s| s < 60) {
        end += 3;
    }
    if hour > 23 || minute > 59 || chars.get(end).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let text: String = chars[start..end].iter().collect();
    Some((
        Some(Figure::Clock {
            text,
            minute_of_day: hour * 60 + minute,
        }),
        end,
    ))
}

/// A number (`1,234.5`, `307`), and the unit of time after it when there is one.
fn number_at(chars: &[char], start: usize) -> (Option<Figure>, usize) {
    let mut i = start;
    let mut digits = String::new();
    let mut decimals = 0;
    while i < chars.len() {
        let c = chars[i];
        let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
        let thousands = c == ','
            && chars.len() > i + 3
            && chars[i + 1..i + 4].iter().all(char::is_ascii_digit)
            && chars.get(i + 4).is_none_or(|c| !c.is_ascii_digit())
            && !digits.contains('.');
        if c.is_ascii_digit() {
            digits.push(c);
            if digits.contains('.') {
                decimals += 1;
            }
        } else if c == '.' && next_is_digit && !digits.contains('.') {
            digits.push('.');
        } else if !thousands {
            break;
        }
        i += 1;
    }
    let Ok(value) = digits.parse::<f64>() else {
        return (None, i);
    };
    let text: String = chars[start..i].iter().collect();
    match unit_after(chars, i) {
        Some((unit_ms, end)) => (
            Some(Figure::Duration {
                text: chars[start..end].iter().collect(),
                value,
                decimals,
                unit_ms,
            }),
            end,
        ),
        None => (
            Some(Figure::Number {
                text,
                value,
                decimals,
            }),
            i,
        ),
    }
}

/// A unit of time right after a number (one space allowed), ending at a non-letter.
fn unit_after(chars: &[char], at: usize) -> Option<(f64, usize)> {
    let from = if chars.get(at) == Some(&' ') {
        at + 1
    } else {
        at
    };
    UNITS.iter().find_map(|(name, ms)| {
        let end = from + name.len();
        let word: String = chars.get(from..end)?.iter().collect();
        let ends = chars.get(end).is_none_or(|c| !c.is_alphabetic());
        (word.eq_ignore_ascii_case(name) && ends).then_some((*ms, end))
    })
}

/// The time of day (minutes after midnight, UTC) and the day of UTC milliseconds.
pub fn clock_and_day(ms: i64) -> Option<(u32, NaiveDate)> {
    let at = DateTime::from_timestamp_millis(ms)?;
    Some((at.hour() * 60 + at.minute(), at.date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        figures(text).iter().map(|f| f.text().to_string()).collect()
    }

    #[test]
    fn names_are_not_figures() {
        assert_eq!(texts("E3 and p99 on http2, v1.2 vs 7 and 5xx"), ["7", "5"]);
        assert_eq!(texts("E34 rose"), Vec::<String>::new());
    }

    #[test]
    fn times_dates_and_durations_are_told_apart() {
        let found = figures("At 14:55 on 2026-11-20T08:15:00Z it rose 5500% for 42 minutes (p99 1,234.5 ms), 3:05:09 later");
        let kinds: Vec<&str> = found
            .iter()
            .map(|f| match f {
                Figure::Number { .. } => "number",
                Figure::Duration { .. } => "duration",
                Figure::Clock { .. } => "clock",
                Figure::Date { .. } => "date",
            })
            .collect();
        assert_eq!(
            kinds,
            ["clock", "date", "number", "duration", "duration", "clock"]
        );
        assert_eq!(
            found[0],
            Figure::Clock {
                text: "14:55".into(),
                minute_of_day: 14 * 60 + 55
            }
        );
        assert_eq!(found[1].text(), "2026-11-20T08:15:00Z");
        assert_eq!(found[3].text(), "42 minutes");
        assert_eq!(found[4].text(), "1,234.5 ms");
        assert_eq!(texts("a 3-step shift"), ["3"], "a hyphen is no unit");
        assert_eq!(texts("ratio 24:99"), ["24", "99"], "not a time of day");
    }
}
