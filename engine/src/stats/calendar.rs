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
    // data begin or end in (only its start, or only its end, is in them).
    match (weekend, night) {
        (true, _) if duration >= DAY_MS / 2 => Some(CalendarPeriod::Weekend),
        (_, true) => Some(CalendarPeriod::Night),
        (true, false) if began_before || runs_to_end => Some(CalendarPeriod::Weekend),
        _ => None,
    }
}

/// How far apart in time of day the runs of one daily job may start: a job's own jitter, cron
/// in a server's zone, a summer-time change.
pub const SCHEDULE_TOLERANCE_MS: i64 = HOUR_MS;
/// Runs on this many different days make a daily schedule…
pub const MIN_SCHEDULED_DAYS: usize = 3;
/// …when they fall on at least half of the days from the first run to the last, and each is
/// within this factor of the runs' median size: the same job makes about the same mark.
const SCHEDULED_SIZE_FACTOR: f64 = 2.0;

/// Most schedules read from one series, and most departures read for them: the search is
/// quadratic in the departures, and a series with thousands of them has no few jobs to name.
const MAX_SCHEDULES: usize = 4;
const MAX_SCHEDULED_DEPARTURES: usize = 1_000;

/// Departures that recur at one time of day: the runs of a daily job.
#[derive(Debug, Clone, PartialEq)]
pub struct DailySchedule {
    /// Indices into the departures given to [`daily_schedules`].
    pub members: Vec<usize>,
    /// Time of day (ms since midnight UTC) when the runs start, their median.
    pub time_of_day_ms: i64,
    pub days: usize,
    pub on: Days,
    /// The runs rise above the baseline (a drop below it when false).
    pub rising: bool,
}

/// The days a schedule runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    Every,
    Weekdays,
    Weekends,
}

impl Days {
    /// The kind of day `t` (UTC ms) falls on.
    fn of(t: i64) -> Self {
        if is_weekend(t) {
            Self::Weekends
        } else {
            Self::Weekdays
        }
    }

    fn holds(self, t: i64) -> bool {
        self == Self::Every || self == Self::of(t)
    }

    /// "days", "weekdays", "weekend days".
    pub fn label(self) -> &'static str {
        match self {
            Self::Every => "days",
            Self::Weekdays => "weekdays",
            Self::Weekends => "weekend days",
        }
    }
}

/// The daily schedules among short departures, each given as (start in UTC ms, signed size):
/// departures in one direction, of about the same size, starting within
/// [`SCHEDULE_TOLERANCE_MS`] of one time of day on at least [`MIN_SCHEDULED_DAYS`] days and
/// on at least half of the days they span. A backup at 03:00 is how the metric spends its
/// nights, however large its spike; one spike at 03:00 is not a schedule.
pub fn daily_schedules(departures: &[(i64, f64)]) -> Vec<DailySchedule> {
    if departures.len() > MAX_SCHEDULED_DEPARTURES {
        return Vec::new();
    }
    let mut left: Vec<usize> = (0..departures.len()).collect();
    let mut schedules = Vec::new();
    while schedules.len() < MAX_SCHEDULES {
        let Some(schedule) = largest_schedule(departures, &left) else {
            break;
        };
        left.retain(|i| !schedule.members.contains(i));
        schedules.push(schedule);
    }
    schedules
}

/// The schedule with the most days among the departures `left`, when one qualifies: on
/// every day, or only on days of the anchor's kind (a weekend rush hour).
fn largest_schedule(departures: &[(i64, f64)], left: &[usize]) -> Option<DailySchedule> {
    left.iter()
        .flat_map(|&anchor| {
            let kind = Days::of(departures[anchor].0);
            [Days::Every, kind].map(|days| schedule_at(departures, left, anchor, days))
        })
        .flatten()
        .max_by_key(|s| (s.days, s.members.len()))
}

/// The runs like the one at `anchor` (same direction, about its time of day and size), on
/// `days`, when they make a schedule.
fn schedule_at(
    departures: &[(i64, f64)],
    left: &[usize],
    anchor: usize,
    days: Days,
) -> Option<DailySchedule> {
    let time_of_day = |i: usize| departures[i].0.rem_euclid(DAY_MS);
    // Signed time of day from the anchor to `i`, the short way round midnight.
    let offset = |i: usize| {
        let apart = (time_of_day(i) - time_of_day(anchor)).rem_euclid(DAY_MS);
        if apart > DAY_MS / 2 {
            apart - DAY_MS
        } else {
            apart
        }
    };
    let rising = departures[anchor].1 >= 0.0;
    let at_its_time: Vec<usize> = left
        .iter()
        .copied()
        .filter(|&i| days.holds(departures[i].0) && offset(i).abs() <= SCHEDULE_TOLERANCE_MS)
        .collect();
    let mut sizes: Vec<f64> = at_its_time
        .iter()
        .filter(|&&i| (departures[i].1 >= 0.0) == rising)
        .map(|&i| departures[i].1.abs())
        .collect();
    sizes.sort_by(f64::total_cmp);
    let typical = *sizes.get(sizes.len() / 2)?;
    let like_it = |i: usize| {
        let size = departures[i].1.abs();
        size * SCHEDULED_SIZE_FACTOR >= typical && size <= typical * SCHEDULED_SIZE_FACTOR
    };
    let runs: Vec<usize> = at_its_time
        .iter()
        .copied()
        .filter(|&i| (departures[i].1 >= 0.0) == rising && like_it(i))
        .collect();
    let mut run_days: Vec<i64> = runs
        .iter()
        .map(|&i| departures[i].0.div_euclid(DAY_MS))
        .collect();
    run_days.sort_unstable();
    run_days.dedup();
    let spanned = (*run_days.first()?..=*run_days.last()?)
        .filter(|&day| days.holds(day * DAY_MS))
        .count();
    let qualifies = run_days.len() >= MIN_SCHEDULED_DAYS && 2 * run_days.len() >= spanned;
    let mut offsets: Vec<i64> = runs.iter().map(|&i| offset(i)).collect();
    offsets.sort_unstable();
    // Once the job is known, a departure the other way at its time and of its size is the
    // job again: a baseline that learnt part of it sees a drop the night it ran early.
    let members = at_its_time.into_iter().filter(|&i| like_it(i)).collect();
    qualifies.then(|| DailySchedule {
        time_of_day_ms: (time_of_day(anchor) + offsets[offsets.len() / 2]).rem_euclid(DAY_MS),
        days: run_days.len(),
        on: days,
        rising,
        members,
    })
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
        // Data from Thursday evening that end eight hours (or one) into Saturday: the weekend
        // has begun, it is not over.
        let thursday_evening = saturday - 28 * HOUR_MS;
        for hours_in in [8, 1] {
            let end = saturday + hours_in * HOUR_MS;
            assert_eq!(
                calendar_period(saturday, end, (thursday_evening, end), true),
                Some(CalendarPeriod::Weekend)
            );
        }
        // A drop on a Thursday evening the data end in is no weekend in any time zone.
        let thursday_late = saturday - 30 * HOUR_MS;
        assert_eq!(
            calendar_period(
                thursday_late,
                thursday_evening,
                (MONDAY, thursday_evening),
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

    #[test]
    fn a_spike_at_the_same_hour_every_night_is_a_schedule_and_a_lone_one_is_not() {
        let at = |day: i64, minute: i64| MONDAY + day * DAY_MS + 3 * HOUR_MS + minute * MINUTE_MS;
        let mut departures: Vec<(i64, f64)> = [5, 5, 15, 20, 35, 35]
            .iter()
            .enumerate()
            .map(|(d, &m)| (at(d as i64, m), 10.0))
            .collect();
        departures.push((at(3, 300), 10.0)); // 08:00: another time of day
        departures.push((at(6, 10), -0.9)); // a dip at 03:10: another direction
        departures.push((at(7, 0), 40.0)); // four times the job's size: something else
        departures.push((at(8, 20), -8.0)); // the job's size the other way: the job again
        let schedules = daily_schedules(&departures);
        assert_eq!(schedules.len(), 1, "{schedules:?}");
        assert_eq!(schedules[0].members, vec![0, 1, 2, 3, 4, 5, 9]);
        assert_eq!(schedules[0].days, 6);
        assert_eq!(schedules[0].time_of_day_ms, 3 * HOUR_MS + 20 * MINUTE_MS);
        assert!(
            daily_schedules(&departures[..2]).is_empty(),
            "two runs are no schedule"
        );
        let sparse = [(at(0, 0), 5.0), (at(5, 0), 5.0), (at(10, 0), 5.0)];
        assert!(
            daily_schedules(&sparse).is_empty(),
            "three days in eleven are chance"
        );
        // Saturday, Sunday and the next Sunday at about 03:00: a weekend rhythm.
        let weekend = [(at(5, 0), 0.5), (at(6, 5), 0.5), (at(13, -5), 0.5)];
        let schedules = daily_schedules(&weekend);
        assert_eq!(schedules.len(), 1, "{schedules:?}");
        assert_eq!(schedules[0].on, Days::Weekends);
    }

    #[test]
    fn the_search_for_schedules_is_bounded() {
        // A daily job in every hour of forty days: four named at most, in well under 20 s
        // (the search was cubic in the departures before it was bounded).
        let busy: Vec<(i64, f64)> = (0..MAX_SCHEDULED_DEPARTURES as i64)
            .map(|i| (MONDAY + (i % 40) * DAY_MS + (i / 40) * HOUR_MS, 1.0))
            .collect();
        let started = std::time::Instant::now();
        assert_eq!(daily_schedules(&busy).len(), MAX_SCHEDULES);
        assert!(
            started.elapsed().as_secs_f64() < 20.0,
            "{:?}",
            started.elapsed()
        );
        assert!(daily_schedules(&[busy.clone(), busy].concat()).is_empty());
    }
}
