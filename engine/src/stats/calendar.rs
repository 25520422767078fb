//! The calendar as a prior: a stretch that is exactly a weekend or a night, in a series too
//! short to have shown an earlier one, is most likely the calendar at work (less traffic on
//! Saturday and Sunday, at night), not an incident — when it is quieter: weekends and nights
//! are quieter for almost every metric, so a rise into one is something that happened, and
//! the rise the calendar does explain is the week starting again after the only weekend. With more history the seasonal baseline
//! learns the pattern and this prior is no longer needed.
//!
//! Times are UTC; the bounds are wide enough (a day boundary ± 12 hours) to hold a weekend
//! or a night in any time zone.

use super::seasonality::{DAY_MS, HOUR_MS};

/// A recurring calendar period that explains a stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarPeriod {
    Weekend,
    Night,
    /// Monday after the only weekend of data that began on it: busier again.
    WeekStart,
}

impl CalendarPeriod {
    pub fn label(self) -> &'static str {
        match self {
            Self::Weekend => "the weekend",
            Self::Night => "the night",
            Self::WeekStart => "the week starting after the weekend",
        }
    }
}

/// Hours since Monday 00:00 UTC of the week holding `t` (0..168).
fn hour_of_week(t: i64) -> f64 {
    // 1970-01-01 was a Thursday, three days after a Monday.
    let since_monday = (t + 3 * DAY_MS).rem_euclid(7 * DAY_MS);
    since_monday as f64 / HOUR_MS as f64
}

/// Whether `t` falls on a Saturday or Sunday (UTC).
pub fn is_weekend(t: i64) -> bool {
    hour_of_week(t) >= 120.0
}

fn hour_of_day(t: i64) -> f64 {
    t.rem_euclid(DAY_MS) as f64 / HOUR_MS as f64
}

/// Whether the stretch `start..=end` (UTC ms) touches the only weekend of a series that runs
/// from `first` to `last`: Saturday 00:00 to Monday 00:00 UTC, each ± 12 hours for the time
/// zones, a weekend that begins inside the data, with no other weekend before or after it to
/// compare with.
pub fn on_only_weekend(start: i64, end: i64, first: i64, last: i64) -> bool {
    let week_start = start - (hour_of_week(start) * HOUR_MS as f64) as i64;
    [week_start - 7 * DAY_MS, week_start]
        .into_iter()
        .any(|monday| {
            let (from, to) = (
                monday + 5 * DAY_MS - DAY_MS / 2,
                monday + 7 * DAY_MS + DAY_MS / 2,
            );
            let saturday = monday + 5 * DAY_MS;
            let touches = start <= to && end >= from;
            // The data hold this weekend's start (within a time zone's reach), and no other.
            let holds_it = saturday >= first - DAY_MS / 2 && saturday <= last;
            let none_before = from - first < 7 * DAY_MS - DAY_MS / 2;
            let none_after = last - to < 7 * DAY_MS - DAY_MS;
            touches && holds_it && none_before && none_after
        })
}

/// The calendar period that the stretch `start..=end` (UTC ms) matches, when the series
/// (`first..=last`) holds no earlier one to compare with; `quieter` says whether the stretch
/// runs below the level before it. A stretch that runs to the end of the series may end early
/// (the period is not over yet).
pub fn calendar_period(
    start: i64,
    end: i64,
    (first, last): (i64, i64),
    quieter: bool,
) -> Option<CalendarPeriod> {
    let runs_to_end = end >= last;
    let duration = end - start;
    if !quieter {
        // Sunday noon to Monday noon (Monday 00:00 ± 12 hours), in data that began at the
        // weekend (Saturday 00:00 − 12 hours at the earliest, Sunday noon at the latest) and
        // holds no week before it.
        let h = hour_of_week(start);
        let starts_week = h >= 156.0 || h <= 12.0;
        let monday = start - (h * HOUR_MS as f64) as i64 + if h >= 156.0 { 7 * DAY_MS } else { 0 };
        let began_at_weekend = (DAY_MS / 2..=2 * DAY_MS + DAY_MS / 2).contains(&(monday - first));
        // The Monday, not what happens on the days after it.
        let the_monday = runs_to_end && duration <= DAY_MS;
        return (starts_week && began_at_weekend && the_monday)
            .then_some(CalendarPeriod::WeekStart);
    }
    // Saturday 00:00 and Monday 00:00, each ± 12 hours (hours of the week).
    let starts_weekend = (108.0..=132.0).contains(&hour_of_week(start));
    let ends_weekend = {
        let h = hour_of_week(end);
        h >= 156.0 || h <= 12.0 || (runs_to_end && h >= 108.0)
    };
    let no_earlier_weekend = start - first < 6 * DAY_MS;
    if starts_weekend
        && ends_weekend
        && (DAY_MS / 2..=3 * DAY_MS).contains(&duration)
        && no_earlier_weekend
    {
        return Some(CalendarPeriod::Weekend);
    }
    let starts_night = {
        let h = hour_of_day(start);
        h >= 17.0 || h <= 2.0
    };
    let ends_night = {
        let h = hour_of_day(end);
        (3.0..=11.0).contains(&h) || runs_to_end
    };
    let no_earlier_night = start - first < 22 * HOUR_MS;
    (starts_night
        && ends_night
        && (4 * HOUR_MS..=16 * HOUR_MS).contains(&duration)
        && no_earlier_night)
        .then_some(CalendarPeriod::Night)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-01-01T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_704_067_200_000;

    #[test]
    fn the_only_weekend_is_the_one_a_week_of_data_ends_with() {
        let week_end = MONDAY + 7 * DAY_MS - HOUR_MS;
        let saturday_afternoon = MONDAY + 5 * DAY_MS + 15 * HOUR_MS;
        assert!(on_only_weekend(
            saturday_afternoon,
            saturday_afternoon,
            MONDAY,
            week_end
        ));
        let friday_evening = MONDAY + 4 * DAY_MS + 18 * HOUR_MS;
        assert!(on_only_weekend(friday_evening, week_end, MONDAY, week_end));
        let wednesday = MONDAY + 2 * DAY_MS + 12 * HOUR_MS;
        assert!(!on_only_weekend(wednesday, wednesday, MONDAY, week_end));
        // Monday morning of data that began that Monday: the weekend before is not in it.
        let monday_morning = MONDAY + 8 * HOUR_MS;
        assert!(!on_only_weekend(
            monday_morning,
            monday_morning,
            MONDAY,
            MONDAY + 12 * HOUR_MS
        ));
        // Two weeks: the first weekend has a second to compare with.
        let two_weeks = MONDAY + 14 * DAY_MS - HOUR_MS;
        assert!(!on_only_weekend(
            saturday_afternoon,
            saturday_afternoon,
            MONDAY,
            two_weeks
        ));
    }

    #[test]
    fn a_first_weekend_is_the_calendar() {
        let saturday = MONDAY + 5 * DAY_MS;
        let end_of_sunday = MONDAY + 7 * DAY_MS - HOUR_MS;
        assert_eq!(
            calendar_period(saturday, end_of_sunday, (MONDAY, end_of_sunday), true),
            Some(CalendarPeriod::Weekend)
        );
        // A rise into the weekend is something that happened.
        assert_eq!(
            calendar_period(saturday, end_of_sunday, (MONDAY, end_of_sunday), false),
            None
        );
        // Seen a weekend before: the seasonal baseline judges it, not the prior.
        assert_eq!(
            calendar_period(
                saturday + 7 * DAY_MS,
                end_of_sunday + 7 * DAY_MS,
                (MONDAY, end_of_sunday + 7 * DAY_MS),
                true
            ),
            None
        );
        // A Wednesday is no weekend.
        let wednesday = MONDAY + 2 * DAY_MS;
        assert_eq!(
            calendar_period(
                wednesday,
                wednesday + DAY_MS,
                (MONDAY, MONDAY + 7 * DAY_MS),
                true
            ),
            None
        );
    }

    #[test]
    fn a_first_night_is_the_calendar_but_an_afternoon_is_not() {
        let evening = MONDAY + 20 * HOUR_MS;
        assert_eq!(
            calendar_period(
                evening,
                evening + 10 * HOUR_MS,
                (MONDAY, MONDAY + DAY_MS + 12 * HOUR_MS),
                true
            ),
            Some(CalendarPeriod::Night)
        );
        let afternoon = MONDAY + 13 * HOUR_MS;
        assert_eq!(
            calendar_period(
                afternoon,
                afternoon + 5 * HOUR_MS,
                (MONDAY, MONDAY + DAY_MS),
                true
            ),
            None
        );
    }

    #[test]
    fn the_week_starting_again_after_the_only_weekend_is_the_calendar() {
        let saturday_noon = MONDAY - 2 * DAY_MS + 12 * HOUR_MS;
        let tuesday = MONDAY + DAY_MS;
        let rise = |first: i64| calendar_period(MONDAY, tuesday, (first, tuesday), false);
        // Data that began on the Monday hold no weekend to rise from.
        assert_eq!(rise(MONDAY), None);
        // Days of data after it: what they hold is judged, not explained.
        assert_eq!(
            calendar_period(
                MONDAY,
                tuesday + DAY_MS,
                (saturday_noon, tuesday + DAY_MS),
                false
            ),
            None
        );
        assert_eq!(rise(saturday_noon), Some(CalendarPeriod::WeekStart));
        // Data that hold the week before: the Monday is judged against it.
        assert_eq!(rise(saturday_noon - 5 * DAY_MS), None);
        // A fall on Monday is no week starting.
        assert_eq!(
            calendar_period(MONDAY, tuesday, (saturday_noon, tuesday), true),
            None
        );
    }
}
