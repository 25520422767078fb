//! Timestamp parsing with the format detected from the data, never configured:
//! RFC 3339 / ISO 8601 (with or without zone, `T` or space, optional fraction),
//! `YYYY-MM-DD`, Unix seconds and Unix milliseconds. Everything becomes UTC milliseconds.

/// How a file writes its timestamps; detected from its first timestamp cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampFormat {
    /// Calendar text: ISO 8601 / RFC 3339 or `YYYY-MM-DD HH:MM:SS`. Naive times are UTC.
    Calendar,
    UnixSeconds,
    UnixMillis,
}

/// Numbers at or above this are milliseconds (1e11 seconds is the year 5138; 1e11 ms is 1973).
const MILLIS_THRESHOLD: f64 = 1e11;

impl TimestampFormat {
    /// The format of a sample cell, or `None` when it is no timestamp at all.
    pub fn detect(sample: &str) -> Option<Self> {
        let sample = sample.trim();
        if let Ok(number) = sample.parse::<f64>() {
            return Some(if number.abs() >= MILLIS_THRESHOLD {
                Self::UnixMillis
            } else {
                Self::UnixSeconds
            });
        }
        parse_calendar(sample).map(|_| Self::Calendar)
    }

    /// Parses one cell into UTC milliseconds since the Unix epoch.
    pub fn parse(self, cell: &str) -> Option<i64> {
        let cell = cell.trim();
        match self {
            Self::Calendar => parse_calendar(cell),
            Self::UnixSeconds => cell
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|s| (s * 1000.0).round() as i64),
            Self::UnixMillis => cell
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|ms| ms.round() as i64),
        }
    }
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS[.fff…]]][Z|±HH[:]MM| UTC]`.
fn parse_calendar(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis_of_day = 0;
    let mut rest = &b[10..];
    if !rest.is_empty() {
        if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 6 || rest[3] != b':' {
            return None;
        }
        let hour = digits(rest, 1, 2)?;
        let minute = digits(rest, 4, 2)?;
        let mut second = 0;
        rest = &rest[6..];
        if rest.first() == Some(&b':') {
            second = digits(rest, 1, 2)?;
            rest = &rest[3..];
        }
        let mut fraction_ms = 0;
        if rest.first() == Some(&b'.') {
            let count = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if count == 0 {
                return None;
            }
            let padded: String = rest[1..1 + count.min(3)]
                .iter()
                .map(|c| *c as char)
                .collect();
            fraction_ms = format!("{padded:0<3}").parse::<i64>().ok()?;
            rest = &rest[1 + count..];
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        millis_of_day = ((hour * 60 + minute) * 60 + second) * 1000 + fraction_ms;
        millis_of_day -= zone_offset_ms(rest)?;
    }
    Some(days_from_civil(year, month, day) * 86_400_000 + millis_of_day)
}

/// Offset of a zone suffix in ms (east positive); empty means UTC.
fn zone_offset_ms(zone: &[u8]) -> Option<i64> {
    match zone {
        [] | [b'Z'] | [b'z'] | b" UTC" | b"UTC" => Some(0),
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (hours, minutes) = match rest.len() {
                5 if rest[2] == b':' => (digits(rest, 0, 2)?, digits(rest, 3, 2)?),
                4 => (digits(rest, 0, 2)?, digits(rest, 2, 2)?),
                2 => (digits(rest, 0, 2)?, 0),
                _ => return None,
            };
            let offset = (hours * 60 + minutes) * 60_000;
            Some(if *sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = b.get(start..start + len)?;
    slice.iter().try_fold(0i64, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 text of UTC milliseconds, for reports and JSON.
pub fn to_rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `YYYY-MM-DD HH:MM:SS` (UTC, with milliseconds when there are any): how NAB's files and
/// many exports write time, and what `score` writes back.
pub fn to_calendar(ms: i64) -> String {
    let mut text = Vec::with_capacity(23);
    // Writing into a Vec cannot fail, and only ASCII digits and separators are written.
    let _ = write_calendar(&mut text, ms);
    String::from_utf8(text).unwrap_or_else(|_| ms.to_string())
}

/// [`to_calendar`] straight into a writer, without allocating (`score` writes millions).
pub fn write_calendar(out: &mut impl std::io::Write, ms: i64) -> std::io::Result<()> {
    use chrono::{Datelike as _, Timelike as _};
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else {
        return write!(out, "{ms}");
    };
    write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )?;
    match ms.rem_euclid(1_000) {
        0 => Ok(()),
        millis => write!(out, ".{millis:03}"),
    }
}

/// Parses a look-back such as `90s`, `30m`, `6h`, `1h30m`, `7d` or `2w` into milliseconds
/// (humantime's grammar; `m` is minutes, `M` months).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let too_long = || format!("`{text}` is longer than any history kept (at most 3650d)");
    let duration = humantime::parse_duration(text).map_err(|e| match e {
        humantime::DurationError::NumberOverflow => too_long(),
        humantime::DurationError::UnknownUnit { .. } => {
            format!("`{text}`: the unit must be s, m, h, d or w (as in 30m, 6h, 1h30m or 7d)")
        }
        _ => format!("`{text}` is not a duration like 30m, 6h or 7d"),
    })?;
    match i64::try_from(duration.as_millis()) {
        Ok(0) => Err(format!("`{text}`: a look-back must be longer than zero")),
        Ok(ms) if ms <= MAX_DURATION_MS => Ok(ms),
        _ => Err(too_long()),
    }
}

/// The longest look-back accepted: ten years.
pub const MAX_DURATION_MS: i64 = 3_650 * 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    const NOON_2024_03_01: i64 = 1_709_294_400_000;

    #[test]
    fn durations_never_overflow() {
        assert_eq!(parse_duration("6h"), Ok(6 * 3_600_000));
        assert!(parse_duration("99999999999999w")
            .unwrap_err()
            .contains("at most 3650d"));
        assert!(parse_duration("9223372036854775807s").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
        assert!(parse_duration("0m")
            .unwrap_err()
            .contains("longer than zero"));
        assert_eq!(parse_duration("1h30m"), Ok(90 * 60_000));
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert!(parse_duration("6")
            .unwrap_err()
            .contains("the unit must be"));
        assert!(parse_duration("6 parsecs")
            .unwrap_err()
            .contains("the unit must be"));
    }

    #[test]
    fn calendar_text_round_trips() {
        assert_eq!(to_calendar(NOON_2024_03_01), "2024-03-01 12:00:00");
        assert_eq!(
            to_calendar(NOON_2024_03_01 + 250),
            "2024-03-01 12:00:00.250"
        );
        for ms in [NOON_2024_03_01, NOON_2024_03_01 + 250] {
            assert_eq!(TimestampFormat::Calendar.parse(&to_calendar(ms)), Some(ms));
        }
    }

    #[test]
    fn parses_every_supported_shape_to_the_same_instant() {
        for text in [
            "2024-03-01T12:00:00Z",
            "2024-03-01 12:00:00",
            "2024-03-01T12:00:00",
            "2024-03-01T12:00",
            "2024-03-01T14:00:00+02:00",
            "2024-03-01T07:00:00-0500",
            "2024-03-01T12:00:00.000Z",
            "1709294400",
            "1709294400000",
        ] {
            let format = TimestampFormat::detect(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(format.parse(text), Some(NOON_2024_03_01), "{text}");
        }
    }

    #[test]
    fn fractions_and_dates() {
        let f = TimestampFormat::Calendar;
        assert_eq!(
            f.parse("2024-03-01T12:00:00.25Z"),
            Some(NOON_2024_03_01 + 250)
        );
        assert_eq!(f.parse("1970-01-02"), Some(86_400_000));
        assert_eq!(f.parse("2024-02-29 00:00:00"), Some(1_709_164_800_000));
    }

    #[test]
    fn rejects_nonsense() {
        for text in [
            "abc",
            "2024-13-01",
            "2023-02-29",
            "2024-03-01X12",
            "2024-03-01T25:00:00",
            "",
        ] {
            assert_eq!(TimestampFormat::Calendar.parse(text), None, "{text}");
        }
        assert_eq!(TimestampFormat::detect("hello"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("6h"), Ok(21_600_000));
        assert_eq!(parse_duration("30m"), Ok(1_800_000));
        assert_eq!(parse_duration("7d"), Ok(604_800_000));
        assert_eq!(
            parse_duration("6 hours"),
            Ok(21_600_000),
            "humantime reads words too"
        );
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn formats_as_rfc3339() {
        assert_eq!(to_rfc3339(NOON_2024_03_01), "2024-03-01T12:00:00Z");
    }
}
