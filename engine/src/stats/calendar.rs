//! The calendar as a prior: a stretch that is exactly a weekend or a night, in a series too
//! short to have shown an earlier one, is most likely the calendar at work (less traffic on
//! Saturday and Sunday, at night), not an incident — when it is quieter: weekends and nights
//! are quieter for almost every metric, so a rise into one is something that happened. The
//! one rise it explains is the working hours of the only day, and only once they are over: a
//! rise the data end in is what the metrics stream investigates the moment an incident opens,
//! and no time zone's Monday may explain it away. With more history the seasonal baseline
//! learns the pattern and this prior is no longer needed.
//!
//! Times are UTC; the bounds are wide enough (a day boundary ± 12 hours) to hold a weekend
//! or a night in any time zone.

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;
pub const WEEK_MS: i64 = 7 * DAY_MS;

/// A recurring calendar period that explains a stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarPeriod {
    Weekend,
    Night,
    /// The working hours of the only day the data hold: busier, then quiet again.
    WorkingDay,
}

impl CalendarPeriod {
    pub fn label(self) -> &'static str {
        match self {
            Self::Weekend => "the weekend",
            Self::Night => "the night",
            Self::WorkingDay => "the working day",
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
        // Six to fourteen busier hours that end before the data do, in any time zone, on the
        // only day the data hold.
        let working_hours = (6 * HOUR_MS..=14 * HOUR_MS).contains(&duration) && !runs_to_end;
        let no_earlier_day = start - first < 22 * HOUR_MS;
        return (working_hours && no_earlier_day).then_some(CalendarPeriod::WorkingDay);
    }
    // A stretch the data begin with began before them, inside the period: only its end says
    // how long it lasted.
    let began_before = start <= first;
    // Saturday 00:00 and Monday 00:00, each ± 12 hours (hours of the week).
    let starts_weekend = {
        let h = hour_of_week(start);
        (108.0..=132.0).contains(&h) || (began_before && (h >= 108.0 || h <= 12.0))
    };
    let ends_weekend = {
        let h = hour_of_week(end);
        h >= 156.0 || h <= 12.0 || (runs_to_end && h >= 108.0)
    };
    let weekend =
        starts_weekend && ends_weekend && duration <= 3 * DAY_MS && start - first < 6 * DAY_MS;
    // Nights fall from 17:00 to 02:00 and end from 03:00 to 11:00.
    let starts_night = {
        let h = hour_of_day(start);
        h >= 17.0 || h <= 2.0 || (began_before && h <= 11.0)
    };
    let ends_night = {
        let h = hour_of_day(end);
        (3.0..=11.0).contains(&h) || runs_to_end
    };
    let night = starts_night
        && ends_night
        && (duration >= 4 * HOUR_MS || began_before)
        && duration <= 16 * HOUR_MS
        && start - first < 22 * HOUR_MS;
    // Half a day or more is a weekend; less, a night if it can be one, or a weekend that the
    // data begin in.
    match (weekend, night) {
        (true, _) if duration >= DAY_MS / 2 => Some(CalendarPeriod::Weekend),
        (_, true) => Some(CalendarPeriod::Night),
        (true, false) if began_before => Some(CalendarPeriod::Weekend),
        _ => None,
    }
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
        // Data from Thursday evening that end eight hours into Saturday: too little of the
        // weekend to tell it from a drop that the data end in.
        let thursday_evening = saturday - 28 * HOUR_MS;
        let eight_in = saturday + 8 * HOUR_MS;
        assert_eq!(
            calendar_period(saturday, eight_in, (thursday_evening, eight_in), true),
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
    fn a_rise_the_data_end_in_is_never_the_calendar() {
        // Sunday 13:50 in data from 09:40: Monday 00:00 somewhere east, but a rise still going
        // on when the data end is what the stream investigates as an incident opens.
        let sunday = MONDAY - DAY_MS;
        let (first, onset) = (
            sunday + 9 * HOUR_MS + 40 * MINUTE_MS,
            sunday + 13 * HOUR_MS + 50 * MINUTE_MS,
        );
        let last = onset + 20 * MINUTE_MS;
        assert_eq!(calendar_period(onset, last, (first, last), false), None);
        assert_eq!(
            calendar_period(
                MONDAY,
                MONDAY + 9 * HOUR_MS,
                (sunday, MONDAY + 9 * HOUR_MS),
                false
            ),
            None
        );
    }

    #[test]
    fn the_working_hours_of_the_only_day_are_the_calendar_but_a_rise_that_stays_is_not() {
        let (eight, seven) = (MONDAY + 8 * HOUR_MS, MONDAY + 19 * HOUR_MS);
        let day = (MONDAY - 2 * HOUR_MS, MONDAY + 22 * HOUR_MS);
        assert_eq!(
            calendar_period(eight, seven, day, false),
            Some(CalendarPeriod::WorkingDay)
        );
        // Still up when the data end: something that happened, not the working day.
        assert_eq!(calendar_period(eight, day.1, day, false), None);
        // Seen a working day before.
        assert_eq!(
            calendar_period(
                eight + DAY_MS,
                seven + DAY_MS,
                (day.0, day.1 + DAY_MS),
                false
            ),
            None
        );
    }

    #[test]
    fn a_quiet_stretch_the_data_begin_with_is_judged_by_when_it_ends() {
        // Data from 03:52: quiet until 08:00 is the end of a night that began before them.
        let first = MONDAY + 3 * HOUR_MS + 52 * MINUTE_MS;
        let data = (first, first + DAY_MS);
        assert_eq!(
            calendar_period(first, MONDAY + 8 * HOUR_MS, data, true),
            Some(CalendarPeriod::Night)
        );
        // Quiet until 14:00 is no night.
        assert_eq!(
            calendar_period(first, MONDAY + 14 * HOUR_MS, data, true),
            None
        );
    }
}
