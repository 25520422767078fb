//! The live anomaly score: one point at a time, each score from the points up to it only, in
//! bounded time and memory per point. It drives the metrics stream's alerts and
//! `anomaly-hunter score`, and it is what `bench nab` measures.
//!
//! Four measures each ask a different question of the newest point:
//!
//! - **level** — is the mean of the last few points far from the recent median, in robust
//!   (MAD) units? (NAB's windowed Gaussian, made robust)
//! - **spread** — are the last points, on average, far from that median in either direction
//!   (spike density, variance bursts)? (the short-window average of HTM's anomaly likelihood,
//!   Ahmad et al., *Unsupervised real-time anomaly detection for streaming data*, 2017)
//! - **phase** — is the point far from what this time of day, or of week, looked like in the
//!   last cycles? Whichever of the two explains the point better counts, so a weekend is judged
//!   against weekends once weeks are known. (same-phase baselines as in Hochenbaum et al.,
//!   *Automatic anomaly detection in the cloud via statistical learning*, Twitter 2017, kept
//!   causal)
//! - **shape** — how far is the newest stretch (three piecewise means) from the nearest stretch
//!   seen before? A causal, left-only matrix profile over a piecewise-aggregate view (Yeh et
//!   al., *Matrix Profile I*, ICDM 2016; Keogh et al.'s PAA, 2001), in the spirit of the
//!   context detectors CAD OSE (NAB `context_ose`) and ARTime: a pattern already seen is no
//!   anomaly, however large.
//!
//! No measure is comparable across metrics as it stands, so each is judged against its own
//! recent extremes: the second largest of its last block maxima (Gumbel's block-maxima view of
//! extremes, as SPOT does for streams: Siffer et al., *Anomaly detection in streams with
//! extreme value theory*, KDD 2017), compared in log units (`ln(1 + x)`) so that a stretch
//! where the metric's scale collapsed does not make every later deviation look small, and
//! never below a small floor, so that bounded noise beating its own tiny wobble is no news.
//! A measure at its usual extreme gives a ratio of 1; the score is `r / (1 + r)` for the
//! largest weighted ratio `r`, so 0.5 means "as unusual as the metric's usual worst" and an
//! alert needs a little more.
//!
//! An alert opens an incident: the score stays 0 for the next `quiet` points (NAB counts only
//! the first detection of an anomaly, and a person wants one page), and the incident's peak
//! raises the bar for `incident_memory` points, so the same incident again soon after — a
//! batch job's burst — is the metric's usual behaviour while a stronger one alerts. Nothing
//! is scored during the first `warmup` points, and a measure says nothing (rather than guess)
//! until it has a baseline and a first block of extremes.
//!
//! # Free constants
//!
//! Twenty-six numbers were chosen by search on NAB's development split; each moves with the
//! mechanism named beside it, and `bench nab --loco` re-chooses the sixteen detection ones
//! without the category it scores (a change that adds one must pay for itself there):
//!
//! - windows of the baselines — `level_window` 150 points (about half a day at 5 minutes:
//!   long enough for a stable median, short enough to follow a new normal), `level_points` 16
//!   and `spread_points` 32 (an hour or two of persistence before a shift counts),
//!   `phase_residual_window` 240 (residual scale of the phase measure), `days` 7 and `weeks`
//!   2 (cycles remembered per phase), `phase_neighbours` 1 (a daily job's jitter);
//! - the shape memory — `shape_segment` 12 points × `shape_segments` 3 (a stretch of three
//!   hours at 5 minutes), `shape_memory` 2,000 stretches;
//! - the extremes reference — `block` 80 points, `blocks` 16, `min_blocks` 3: the reference is
//!   the second largest of the last 16 block maxima, i.e. the level this metric's own noise
//!   passes about once in eight blocks (a per-series, rank-based calibration: a Gumbel return
//!   level of 8–32 blocks instead scored 53–65 on dev and 58–65 LOCO, worse);
//! - how measures combine — `weights` 0.7 / 1.0 / 0.8 / 0.9 (three free: the alert score
//!   fixes the scale) and `floors` 1 / 2 / 1 / 0.2 MADs (below them a measure's record is
//!   noise, not news); `alert_score` 0.52 (just past "as unusual as the usual worst");
//! - incidents — `warmup` 60 points, `quiet` 80 (one page per incident, as NAB counts one
//!   detection per window), `incident_memory` 400 (the same incident again soon is the
//!   metric's habit);
//! - in the code — `MIN_BASELINE` 16 points and `SPREAD_Z_CAP` 20 MADs (one wild point's
//!   weight in the spread measure).
//!
//! `refresh_every` and `shape_stride` trade time for precision only.

use std::collections::VecDeque;

use super::robust::MAD_TO_SIGMA;

/// Tuning of [`LiveScorer`]. The defaults were chosen on NAB's development split (35 real and
/// artificial metrics at 5 minutes to 1 hour resolution) and are the same for every metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveScoreConfig {
    /// Points in the level baseline (median and MAD).
    pub level_window: usize,
    /// The baselines' median and MAD are recomputed every this many points.
    pub refresh_every: usize,
    /// Points averaged by the level measure.
    pub level_points: usize,
    /// Points averaged by the spread measure.
    pub spread_points: usize,
    /// Earlier days and weeks kept per phase.
    pub days: usize,
    pub weeks: usize,
    /// Phases on either side that count as the same time of day (jitter of a daily job).
    pub phase_neighbours: usize,
    /// Residuals kept to scale the phase measure.
    pub phase_residual_window: usize,
    /// Points per piecewise mean of the shape measure, and means per stretch.
    pub shape_segment: usize,
    pub shape_segments: usize,
    /// A stretch is remembered every this many points, up to `shape_memory` stretches.
    pub shape_stride: usize,
    pub shape_memory: usize,
    /// Points per block of the extremes reference, blocks remembered, and blocks seen before
    /// the reference is trusted (until then the measure says nothing: a metric's first hours
    /// have not shown its usual extremes yet, e.g. the falling half of a daily cycle).
    pub block: usize,
    pub blocks: usize,
    pub min_blocks: usize,
    /// Weights of the level, spread, phase and shape ratios: a lower weight asks that measure
    /// to go further beyond its usual extreme before it alerts.
    pub weights: [f64; 4],
    /// Points before anything is scored.
    pub warmup: usize,
    /// Score at or above which an alert opens.
    pub alert_score: f64,
    /// Points after an alert during which the incident raises nothing new.
    pub quiet: usize,
    /// Points for which an incident's peak raises the bar (0: not at all), so that the same
    /// incident again soon after is the metric's usual behaviour, not a new page.
    pub incident_memory: usize,
    /// Least usual extreme of each measure, in its own units (MADs, or MADs of distance for
    /// the shape): below it, a measure's "record" is noise, not news. A bounded noise's
    /// tiny wobble can beat its own earlier wobble by any ratio.
    pub floors: [f64; MEASURES],
    /// How long the combined ratio's own history is remembered (points; older ones fade), and
    /// how rare a ratio must be on it to be news: below the level passed once every
    /// `tail_return` points it is this metric's habit. Either 0: no such calibration — the
    /// default for NAB, where it does not pay for itself (with a sliding window of 2,000 points
    /// dev scored 70.3, of 8,000 points 71.6, against 73.8 without); a watch sets them to two
    /// weeks and one week ([`LiveScoreConfig::for_watch`]), so a metric pages about as often as
    /// its own worst week says it should.
    pub tail_history: usize,
    pub tail_return: usize,
}

impl Default for LiveScoreConfig {
    fn default() -> Self {
        Self {
            level_window: 150,
            refresh_every: 8,
            level_points: 16,
            spread_points: 32,
            days: 7,
            weeks: 2,
            phase_neighbours: 1,
            phase_residual_window: 240,
            shape_segment: 12,
            shape_segments: 3,
            shape_stride: 4,
            shape_memory: 2_000,
            block: 80,
            blocks: 16,
            min_blocks: 3,
            weights: [0.7, 1.0, 0.8, 0.9],
            warmup: 60,
            alert_score: 0.52,
            quiet: 80,
            incident_memory: 400,
            floors: [1.0, 2.0, 1.0, 0.2],
            tail_history: 0,
            tail_return: 0,
        }
    }
}

impl LiveScoreConfig {
    /// A watch's scorer at `step_ms`: the NAB-tuned defaults, plus the long-tail calibration
    /// over two weeks, so that an alert must beat what this series reaches about once a week
    /// (a page a week at most on a metric that behaves as it did).
    pub fn for_watch(step_ms: i64) -> Self {
        const WEEK_MS: i64 = 7 * 86_400_000;
        let week = usize::try_from(WEEK_MS / step_ms.max(1_000)).unwrap_or(usize::MAX);
        Self {
            tail_history: 2 * week,
            tail_return: week,
            ..Self::default()
        }
    }

    /// Points of history that shape a scorer's state — its longest memory, counting a point a
    /// minute for the phase baselines, at most two weeks of those: what a restarted scorer
    /// replays to be where it was.
    pub fn memory_points(&self) -> usize {
        const MINUTES_PER_DAY: usize = 24 * 60;
        let phase_minutes = (7 * self.weeks).max(self.days) * MINUTES_PER_DAY;
        [
            self.block * self.blocks,
            self.shape_memory * self.shape_stride,
            self.incident_memory,
            self.tail_history,
            phase_minutes.min(14 * MINUTES_PER_DAY),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

/// Scores a whole series in order, as the live stream would score its points one by one.
pub fn score_points(
    timestamps_ms: &[i64],
    values: &[f64],
    config: LiveScoreConfig,
) -> Vec<PointScore> {
    let mut scorer = LiveScorer::new(config);
    timestamps_ms
        .iter()
        .zip(values)
        .map(|(&at, &value)| scorer.push(at, value))
        .collect()
}

/// The score of one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointScore {
    /// In [0, 1]: 0.5 is as unusual as the metric's usual worst; 0 while an incident is open.
    pub score: f64,
    /// The same, also while an incident is open (0 before the warm-up ends): how unusual the
    /// point is, which tells when an open incident is over.
    pub unusual: f64,
    /// This point opens an incident: the live alert.
    pub alert: bool,
}

/// The measures in the order of [`LiveScoreConfig::weights`].
const MEASURES: usize = 4;

/// The scorer of one metric.
#[derive(Debug, Clone)]
pub struct LiveScorer {
    config: LiveScoreConfig,
    level: RollingRobust,
    level_mean: RollingMean,
    spread_mean: RollingMean,
    daily: PhaseBaseline,
    weekly: PhaseBaseline,
    shape: ShapeMemory,
    extremes: [Extremes; MEASURES],
    tail: LongTail,
    seen: usize,
    quiet_left: usize,
}

impl LiveScorer {
    pub fn new(config: LiveScoreConfig) -> Self {
        let phase = |period, cycles| {
            PhaseBaseline::new(
                period,
                cycles,
                config.phase_neighbours,
                RollingRobust::new(config.phase_residual_window, config.refresh_every),
            )
        };
        Self {
            config,
            level: RollingRobust::new(config.level_window, config.refresh_every),
            level_mean: RollingMean::new(config.level_points),
            spread_mean: RollingMean::new(config.spread_points),
            daily: phase(DAY_SECONDS, config.days),
            weekly: phase(7 * DAY_SECONDS, config.weeks),
            shape: ShapeMemory::new(
                config.shape_segment,
                config.shape_segments,
                config.shape_stride,
                config.shape_memory,
            ),
            extremes: std::array::from_fn(|i| {
                Extremes::new(
                    config.block,
                    config.blocks,
                    config.min_blocks,
                    config.incident_memory,
                    config.floors[i],
                )
            }),
            tail: LongTail::new(config.tail_history, config.tail_return),
            seen: 0,
            quiet_left: 0,
        }
    }

    /// Scores `value` at `timestamp_ms` (Unix milliseconds) and learns from it. A value that
    /// is not finite scores 0 and teaches nothing.
    pub fn push(&mut self, timestamp_ms: i64, value: f64) -> PointScore {
        const NOTHING: PointScore = PointScore {
            score: 0.0,
            unusual: 0.0,
            alert: false,
        };
        if !value.is_finite() {
            return NOTHING;
        }
        self.seen += 1;
        let ratios = self.ratios(timestamp_ms.div_euclid(1_000), value);
        let raw = ratios
            .iter()
            .zip(self.config.weights)
            .map(|(ratio, weight)| ratio * weight)
            .fold(0.0, f64::max);
        let score = match raw / self.tail.usual_record() {
            ratio if ratio.is_nan() => 0.0,
            ratio if ratio.is_infinite() => 1.0,
            ratio => ratio / (1.0 + ratio),
        };
        if self.seen < self.config.warmup {
            return NOTHING;
        }
        // Incidents included: what this metric reaches, however often, is its habit.
        self.tail.push(raw);
        if self.quiet_left > 0 {
            self.quiet_left -= 1;
            let closing = self.quiet_left == 0;
            for extremes in &mut self.extremes {
                extremes.during_incident(closing);
            }
            return PointScore {
                unusual: score,
                ..NOTHING
            };
        }
        let alert = score >= self.config.alert_score;
        if alert {
            self.quiet_left = self.config.quiet;
            for extremes in &mut self.extremes {
                extremes.open_incident();
            }
        }
        PointScore {
            score,
            unusual: score,
            alert,
        }
    }

    /// The recent median and robust scale (σ units) of the metric: where it was.
    pub fn level(&self) -> (f64, f64) {
        (self.level.median, self.level.scale)
    }

    /// Bytes this scorer holds on the heap: what a watched series costs (bounded: the phase
    /// profiles do not grow with a finer step, every other memory is a fixed count of points).
    pub fn heap_bytes(&self) -> usize {
        self.level.heap_bytes()
            + self.level_mean.heap_bytes()
            + self.spread_mean.heap_bytes()
            + self.daily.heap_bytes()
            + self.weekly.heap_bytes()
            + self.shape.heap_bytes()
            + self
                .extremes
                .iter()
                .map(Extremes::heap_bytes)
                .sum::<usize>()
            + self.tail.heap_bytes()
    }

    /// Each measure's ratio to its usual extreme (0 while either is unknown).
    fn ratios(&mut self, seconds: i64, value: f64) -> [f64; MEASURES] {
        let ready = self.level.len() >= MIN_BASELINE;
        let point_z = ready.then(|| self.level.z(value).abs());
        let mean = self.level_mean.push(value);
        let level = ready.then(|| self.level.z(mean).abs());
        self.level.push(value);
        let daily = self.daily.push(seconds, value);
        let weekly = self.weekly.push(seconds, value);
        let phase = match (daily, weekly) {
            (Some(daily), Some(weekly)) => Some(daily.min(weekly)),
            (daily, weekly) => daily.or(weekly),
        };
        let spread = point_z.map(|z| self.spread_mean.push(z.min(SPREAD_Z_CAP)));
        let shape = self.shape.push(value, self.level.scale);
        let measures = [level, spread, phase, shape];
        std::array::from_fn(|i| measures[i].map_or(0.0, |m| self.extremes[i].ratio(m)))
    }
}

/// Points a baseline needs before it judges anything.
const MIN_BASELINE: usize = 16;

/// One wild point counts at most this many MADs towards the spread measure.
const SPREAD_Z_CAP: f64 = 20.0;

const DAY_SECONDS: i64 = 86_400;

/// Mean of the last `len` values. The running sum is recomputed once per window so that
/// rounding cannot build up over months of points.
#[derive(Debug, Clone)]
struct RollingMean {
    len: usize,
    values: VecDeque<f64>,
    sum: f64,
    since_exact: usize,
}

impl RollingMean {
    fn heap_bytes(&self) -> usize {
        self.values.capacity() * size_of::<f64>()
    }

    fn new(len: usize) -> Self {
        Self {
            len: len.max(1),
            values: VecDeque::with_capacity(len.max(1) + 1),
            sum: 0.0,
            since_exact: 0,
        }
    }

    /// Adds `value`; returns the mean including it.
    fn push(&mut self, value: f64) -> f64 {
        self.values.push_back(value);
        self.sum += value;
        if self.values.len() > self.len {
            self.sum -= self.values.pop_front().unwrap_or(0.0);
        }
        self.since_exact += 1;
        if self.since_exact >= self.len {
            self.since_exact = 0;
            self.sum = self.values.iter().sum();
        }
        self.sum / self.values.len() as f64
    }
}

/// Median and robust scale of the last `window` values, recomputed every `refresh_every`.
/// The values are also kept sorted (insertion by binary search), so a refresh reads the
/// median and the MAD off them without copying or selecting.
#[derive(Debug, Clone)]
struct RollingRobust {
    window: usize,
    refresh_every: usize,
    /// In arrival order.
    values: VecDeque<f64>,
    sorted: Vec<f64>,
    since_refresh: usize,
    median: f64,
    scale: f64,
}

impl RollingRobust {
    fn new(window: usize, refresh_every: usize) -> Self {
        Self {
            window: window.max(1),
            refresh_every: refresh_every.max(1),
            values: VecDeque::with_capacity(window.max(1)),
            sorted: Vec::with_capacity(window.max(1)),
            since_refresh: 0,
            median: 0.0,
            scale: 0.0,
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn heap_bytes(&self) -> usize {
        (self.values.capacity() + self.sorted.capacity()) * size_of::<f64>()
    }

    /// Adds a finite value.
    fn push(&mut self, value: f64) {
        let oldest = (self.values.len() == self.window)
            .then(|| self.values.pop_front())
            .flatten();
        self.values.push_back(value);
        let leaving = oldest.and_then(|oldest| {
            self.sorted
                .binary_search_by(|probe| probe.total_cmp(&oldest))
                .ok()
        });
        let arriving = self
            .sorted
            .partition_point(|probe| probe.total_cmp(&value).is_lt());
        move_into_place(&mut self.sorted, leaving, arriving, value);
        self.since_refresh += 1;
        if self.since_refresh >= self.refresh_every || self.values.len() < 32 {
            self.refresh();
        }
    }

    /// Median and scale: 1.4826 × MAD, or for a quantised series whose MAD is 0 a share of
    /// the mean absolute deviation, and never quite 0.
    fn refresh(&mut self) {
        self.since_refresh = 0;
        let n = self.sorted.len();
        if n == 0 {
            return;
        }
        let middle = n / 2;
        let median = self.sorted[middle];
        let mad = median_deviation(&self.sorted);
        let mean_deviation = absolute_deviation_sum(&self.sorted, median) / n as f64;
        self.median = median;
        self.scale = (MAD_TO_SIGMA * mad)
            .max(0.6267 * mean_deviation)
            .max(1e-9 + 1e-6 * median.abs());
    }

    fn z(&self, value: f64) -> f64 {
        (value - self.median) / self.scale
    }
}

/// In an ascending `sorted`, replaces the element at `leaving` (if any) by `value`, whose
/// place among the present elements is `arriving`: only the elements between the two places
/// move, where a removal and an insertion would each move the whole tail (what a watched
/// series costs is mostly memory traffic).
fn move_into_place<T: Copy>(
    sorted: &mut Vec<T>,
    leaving: Option<usize>,
    arriving: usize,
    value: T,
) {
    match leaving {
        None => sorted.insert(arriving, value),
        Some(leaving) if arriving <= leaving => {
            sorted.copy_within(arriving..leaving, arriving + 1);
            sorted[arriving] = value;
        }
        Some(leaving) => {
            sorted.copy_within(leaving + 1..arriving, leaving);
            sorted[arriving - 1] = value;
        }
    }
}

/// `Σ |x - centre|`, in four independent running sums (so the additions pipeline).
fn absolute_deviation_sum(values: &[f64], centre: f64) -> f64 {
    let mut sums = [0.0; 4];
    let chunks = values.chunks_exact(4);
    let rest: f64 = chunks.remainder().iter().map(|v| (v - centre).abs()).sum();
    for chunk in chunks {
        for (sum, v) in sums.iter_mut().zip(chunk) {
            *sum += (v - centre).abs();
        }
    }
    sums.iter().sum::<f64>() + rest
}

/// The MAD of `sorted` (ascending, not empty) as `RollingRobust` defines it: the `k`-th
/// smallest (from 0) of `|x - sorted[k]|` for `k = n / 2`, in O(log n). The deviations below
/// the median and those above it are two ascending runs; the answer takes the first `i` of one
/// and the first `k + 1 - i` of the other for the `i` that a binary search finds (the k-th
/// element of two sorted arrays).
fn median_deviation(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    let k = middle;
    let median = sorted[middle];
    let below = |i: usize| median - sorted[middle - i]; // i in 0..=middle
    let above = |j: usize| sorted[middle + 1 + j] - median; // j in 0..sorted.len() - middle - 1
    let (below_len, above_len) = (middle + 1, sorted.len() - middle - 1);
    let (mut low, mut high) = ((k + 1).saturating_sub(above_len), (k + 1).min(below_len));
    while low < high {
        let i = (low + high) / 2;
        let j = k + 1 - i;
        if i < below_len && j > 0 && above(j - 1) > below(i) {
            low = i + 1;
        } else {
            high = i;
        }
    }
    let (i, j) = (low, k + 1 - low);
    let from_below = if i > 0 {
        below(i - 1)
    } else {
        f64::NEG_INFINITY
    };
    let from_above = if j > 0 {
        above(j - 1)
    } else {
        f64::NEG_INFINITY
    };
    from_below.max(from_above)
}

/// What a phase of a period (a time of day, or of week) looked like in the last cycles: the
/// robust z of a point's difference from the median of its phase (and its neighbours) over
/// those cycles. The sampling interval is learnt from the first timestamps; a phase is at
/// least [`MIN_PHASE_SECONDS`] wide (the mean of its points in a cycle), so the memory does not
/// grow with a finer step; a metric whose period holds fewer than 8 phases, or whose interval
/// does not divide the period, has no phase baseline. Values are kept as `f32` offsets from
/// the first value, which keeps a large constant part (a counter at 10⁹) exact where it moves.
#[derive(Debug, Clone)]
struct PhaseBaseline {
    period: i64,
    cycles: usize,
    neighbours: usize,
    interval: Interval,
    /// Per phase, its values in the last `cycles` cycles: a ring of `cycles` slots each.
    history: Vec<f32>,
    /// Values each phase has seen (the ring's write position).
    seen: Vec<u32>,
    /// The phase being filled when a phase spans several points.
    filling: Option<Filling>,
    origin: f64,
    scratch: Vec<f64>,
    /// The last phase's expected value, until a phase is filed.
    expected: Option<(usize, f64)>,
    residuals: RollingRobust,
}

/// The points of one phase in one cycle, while it lasts.
#[derive(Debug, Clone, Copy)]
struct Filling {
    phase: usize,
    cycle: i64,
    /// Sum of the points' offsets from the origin.
    sum: f64,
    points: u32,
}

/// Narrowest phase of a period: a finer step averages its points within it, so 10,000
/// series at a 15 s step keep what they would keep at 5 minutes.
const MIN_PHASE_SECONDS: i64 = 300;

/// The sampling interval, learnt from the median of the first gaps.
#[derive(Debug, Clone)]
enum Interval {
    Learning {
        last: Option<i64>,
        gaps: Vec<i64>,
    },
    /// The interval and the width of a phase (a multiple of it).
    Known {
        interval: i64,
        phase: i64,
    },
    /// Too coarse or irregular for this period.
    Unusable,
}

/// Gaps between timestamps that decide the sampling interval.
const INTERVAL_GAPS: usize = 16;

impl PhaseBaseline {
    fn new(period: i64, cycles: usize, neighbours: usize, residuals: RollingRobust) -> Self {
        Self {
            period,
            cycles: cycles.max(1),
            neighbours,
            interval: Interval::Learning {
                last: None,
                gaps: Vec::new(),
            },
            history: Vec::new(),
            seen: Vec::new(),
            filling: None,
            origin: f64::NAN,
            scratch: Vec::new(),
            expected: None,
            residuals,
        }
    }

    /// |z| of `value` against its phase in earlier cycles, once that is known.
    fn push(&mut self, seconds: i64, value: f64) -> Option<f64> {
        let (interval, width) = self.learn_interval(seconds)?;
        if self.origin.is_nan() {
            self.origin = value;
        }
        let phases = self.seen.len();
        let phase = (seconds.rem_euclid(self.period) / width) as usize % phases;
        let mut z = None;
        if let Some(expected) = self.expected(phase) {
            let residual = value - expected;
            if self.residuals.len() >= 32 {
                z = Some(self.residuals.z(residual).abs());
            }
            self.residuals.push(residual);
        }
        self.remember(
            phase,
            seconds.div_euclid(self.period),
            width > interval,
            value,
        );
        z
    }

    /// The median of `phase` and its neighbours in earlier cycles, once it has been seen. It
    /// changes only when a phase is filed, so the points of one phase share one computation.
    fn expected(&mut self, phase: usize) -> Option<f64> {
        if self.seen[phase] == 0 {
            return None;
        }
        if let Some((known, expected)) = self.expected {
            if known == phase {
                return Some(expected);
            }
        }
        let phases = self.seen.len();
        self.scratch.clear();
        for offset in 0..=2 * self.neighbours {
            let neighbour = (phase + phases + offset - self.neighbours) % phases;
            let kept = (self.seen[neighbour] as usize).min(self.cycles);
            let at = neighbour * self.cycles;
            self.scratch
                .extend(self.history[at..at + kept].iter().map(|&v| f64::from(v)));
        }
        let middle = self.scratch.len() / 2;
        let expected = self.origin
            + *self
                .scratch
                .select_nth_unstable_by(middle, f64::total_cmp)
                .1;
        self.expected = Some((phase, expected));
        Some(expected)
    }

    /// Files `value` in its phase's next slot; when a phase spans several points, their mean
    /// is filed once the phase is over, so a phase's own partial cycle is never its baseline.
    fn remember(&mut self, phase: usize, cycle: i64, averaged: bool, value: f64) {
        let offset = value - self.origin;
        if !averaged {
            self.file(phase, offset);
            return;
        }
        match &mut self.filling {
            Some(filling) if filling.phase == phase && filling.cycle == cycle => {
                filling.sum += offset;
                filling.points += 1;
            }
            filling => {
                let done = filling.replace(Filling {
                    phase,
                    cycle,
                    sum: offset,
                    points: 1,
                });
                if let Some(done) = done {
                    self.file(done.phase, done.sum / f64::from(done.points));
                }
            }
        }
    }

    fn file(&mut self, phase: usize, offset: f64) {
        self.expected = None;
        let slot = self.seen[phase] as usize % self.cycles;
        self.history[phase * self.cycles + slot] = offset as f32;
        self.seen[phase] = self.seen[phase].saturating_add(1);
    }

    /// The interval and the phase width, once learnt.
    fn learn_interval(&mut self, seconds: i64) -> Option<(i64, i64)> {
        let Interval::Learning { last, gaps } = &mut self.interval else {
            return match self.interval {
                Interval::Known { interval, phase } => Some((interval, phase)),
                _ => None,
            };
        };
        if let Some(previous) = last.replace(seconds) {
            if seconds > previous {
                gaps.push(seconds - previous);
            }
        }
        if gaps.len() < INTERVAL_GAPS {
            return None;
        }
        gaps.sort_unstable();
        let interval = gaps[INTERVAL_GAPS / 2];
        let phase = phase_width(self.period, interval);
        match phase.map(|phase| (phase, self.period / phase)) {
            Some((phase, phases)) if phases >= 8 => {
                self.interval = Interval::Known { interval, phase };
                self.history = vec![0.0; phases as usize * self.cycles];
                self.seen = vec![0; phases as usize];
                Some((interval, phase))
            }
            _ => {
                self.interval = Interval::Unusable;
                None
            }
        }
    }

    fn heap_bytes(&self) -> usize {
        let gaps = match &self.interval {
            Interval::Learning { gaps, .. } => gaps.capacity() * size_of::<i64>(),
            _ => 0,
        };
        gaps + self.history.capacity() * size_of::<f32>()
            + self.seen.capacity() * size_of::<u32>()
            + self.scratch.capacity() * size_of::<f64>()
            + self.residuals.heap_bytes()
    }
}

/// The narrowest multiple of `interval` that is at least [`MIN_PHASE_SECONDS`] and divides
/// `period`; `None` when the interval itself does not divide it.
fn phase_width(period: i64, interval: i64) -> Option<i64> {
    if interval <= 0 || period % interval != 0 {
        return None;
    }
    let least = (MIN_PHASE_SECONDS + interval - 1) / interval;
    (least..=period / interval)
        .map(|points| points * interval)
        .find(|width| period % width == 0)
}

/// The distance (mean absolute difference of piecewise means, in units of `scale`) from the
/// newest stretch to the nearest stretch remembered before it; stretches that overlap the
/// newest are not candidates.
#[derive(Debug, Clone)]
struct ShapeMemory {
    segment: usize,
    segments: usize,
    stride: usize,
    capacity: usize,
    recent: VecDeque<f64>,
    /// Stretches too recent to be candidates, `segments` means each, oldest first.
    pending: VecDeque<f64>,
    /// Candidate stretches in a ring: stretch number `id` at `(id % capacity) * segments`,
    /// as offsets from `origin` (the first value). Kept in `f64`: a quantised metric repeats
    /// its stretches exactly, and that zero distance is what tells its pattern is known.
    stretches: Vec<f64>,
    origin: f64,
    /// Number of the oldest candidate, and of the next to be stored.
    first_id: usize,
    next_id: usize,
    /// Ring slots of every candidate, sorted by (sum of means, slot): the sums are read off
    /// the stretches, not stored twice.
    by_sum: Vec<u32>,
    /// Where the last newest stretch's sum fell in `by_sum`: the next one is searched from there.
    hint: usize,
    since_stored: usize,
    current: Vec<f64>,
}

/// Candidates needed before the shape measure says anything.
const MIN_SHAPES: usize = 32;

impl ShapeMemory {
    fn new(segment: usize, segments: usize, stride: usize, capacity: usize) -> Self {
        let segment = segment.max(1);
        let segments = segments.max(1);
        let capacity = capacity.max(1);
        Self {
            segment,
            segments,
            stride: stride.max(1),
            capacity,
            recent: VecDeque::with_capacity(segment * segments + 1),
            pending: VecDeque::new(),
            stretches: vec![0.0; capacity * segments],
            origin: f64::NAN,
            first_id: 0,
            next_id: 0,
            by_sum: Vec::with_capacity(capacity),
            hint: 0,
            since_stored: 0,
            current: vec![0.0; segments],
        }
    }

    fn push(&mut self, value: f64, scale: f64) -> Option<f64> {
        let span = self.segment * self.segments;
        if self.origin.is_nan() {
            self.origin = value;
        }
        self.recent.push_back(value - self.origin);
        if self.recent.len() > span {
            self.recent.pop_front();
        }
        if self.recent.len() < span {
            return None;
        }
        for (k, mean) in self.current.iter_mut().enumerate() {
            let start = k * self.segment;
            *mean =
                self.recent.range(start..start + self.segment).sum::<f64>() / self.segment as f64;
        }
        let nearest = if self.next_id - self.first_id >= MIN_SHAPES {
            self.nearest()
        } else {
            f64::INFINITY
        };
        self.since_stored += 1;
        if self.since_stored >= self.stride {
            self.since_stored = 0;
            self.remember();
        }
        nearest
            .is_finite()
            .then(|| nearest / self.segments as f64 / scale.max(1e-9))
    }

    fn heap_bytes(&self) -> usize {
        (self.recent.capacity() + self.pending.capacity() + self.current.capacity())
            * size_of::<f64>()
            + self.stretches.capacity() * size_of::<f64>()
            + self.by_sum.capacity() * size_of::<u32>()
    }

    fn stretch(&self, slot: usize) -> &[f64] {
        let at = slot * self.segments;
        &self.stretches[at..at + self.segments]
    }

    /// The search key of the candidate in `slot`: its sum of means, then the slot.
    fn key(&self, slot: usize) -> (f64, u32) {
        let sum = self.stretch(slot).iter().sum();
        (sum, slot as u32)
    }

    /// Sum of absolute differences to the nearest candidate. That sum is at least the
    /// difference of the two stretches' sums of means, so candidates sorted by that sum are
    /// searched outwards from the newest stretch's until the difference alone exceeds the best
    /// match.
    fn nearest(&mut self) -> f64 {
        let key = self.current.iter().sum::<f64>();
        self.hint = self.gallop(self.hint, |slot| self.key(slot as usize).0 < key);
        let start = self.hint;
        let distance = |slot: usize| -> f64 {
            self.stretch(slot)
                .iter()
                .zip(&self.current)
                .map(|(&a, b)| (a - b).abs())
                .sum()
        };
        let sum = |slot: u32| self.key(slot as usize).0;
        let mut best = f64::INFINITY;
        for &slot in &self.by_sum[start..] {
            if sum(slot) - key >= best {
                break;
            }
            best = best.min(distance(slot as usize));
        }
        for &slot in self.by_sum[..start].iter().rev() {
            if key - sum(slot) >= best {
                break;
            }
            best = best.min(distance(slot as usize));
        }
        best
    }

    /// Files the newest stretch; one that no longer overlaps the newest becomes a candidate.
    fn remember(&mut self) {
        self.pending.extend(self.current.iter().copied());
        let overlapping = self.segment * self.segments / self.stride;
        if self.pending.len() <= overlapping * self.segments {
            return;
        }
        // The oldest candidate, when the ring is full, is in the slot the new one takes.
        let slot = self.next_id % self.capacity;
        let mut leaving = None;
        if self.next_id - self.first_id == self.capacity {
            let oldest = self.key(slot);
            let at = self.gallop(self.interpolated(oldest.0), |probe| {
                compare(&self.key(probe as usize), &oldest).is_lt()
            });
            leaving = (self.by_sum.get(at) == Some(&oldest.1)).then_some(at);
            self.first_id += 1;
        }
        let sum = self.pending.iter().take(self.segments).sum::<f64>();
        let key = (sum, slot as u32);
        let arriving = self.gallop(self.hint, |probe| {
            compare(&self.key(probe as usize), &key).is_lt()
        });
        let at = slot * self.segments;
        for (mean, pending) in self.stretches[at..at + self.segments]
            .iter_mut()
            .zip(self.pending.drain(..self.segments))
        {
            *mean = pending;
        }
        self.next_id += 1;
        move_into_place(&mut self.by_sum, leaving, arriving, key.1);
    }

    /// Where `sum` would be in `by_sum` if the candidates' sums were spread evenly between
    /// the lowest and the highest: a first guess for a sum with no better hint.
    fn interpolated(&self, sum: f64) -> usize {
        let (Some(&lowest), Some(&highest)) = (self.by_sum.first(), self.by_sum.last()) else {
            return 0;
        };
        let (lowest, highest) = (self.key(lowest as usize).0, self.key(highest as usize).0);
        let share = (sum - lowest) / (highest - lowest);
        if share.is_finite() {
            (share.clamp(0.0, 1.0) * (self.by_sum.len() - 1) as f64) as usize
        } else {
            0
        }
    }

    /// How many candidates, in `by_sum` order, `below` holds for (a prefix of them), searched
    /// outwards from `hint`: the newest stretch's sum moves little from one point to the next,
    /// so its place is a few probes from the last one, where a binary search would wait for
    /// memory at each of its eleven steps.
    fn gallop(&self, hint: usize, below: impl Fn(u32) -> bool) -> usize {
        let below_at = |at: usize| below(self.by_sum[at]);
        let len = self.by_sum.len();
        let hint = hint.min(len);
        let (mut low, mut high) = (0, len);
        let mut step = 1;
        if hint < len && below_at(hint) {
            low = hint + 1;
            while hint + step < len {
                if !below_at(hint + step) {
                    high = hint + step;
                    break;
                }
                low = hint + step + 1;
                step *= 2;
            }
        } else {
            high = hint;
            while step <= hint {
                if below_at(hint - step) {
                    low = hint - step + 1;
                    break;
                }
                high = hint - step;
                step *= 2;
            }
        }
        low + self.by_sum[low..high].partition_point(|&slot| below(slot))
    }
}

fn compare(a: &(f64, u32), b: &(f64, u32)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// The combined ratio's long memory on one metric: a histogram of `ln r` over the points
/// outside incidents, older ones weighing less (`e^(-age / history)`, so memory stays a few
/// hundred bytes whatever the step). Its level passed once per `per_record` points is this
/// metric's usual record; a ratio must pass it to count, so a bursty metric whose ratios often
/// go past 1 asks more than a smooth one (per-series calibration over weeks, where the block
/// maxima see about a day; as HTM's anomaly likelihood judges a score against the metric's own
/// last month). Never below 1: it only raises the bar, and only once `per_record` points have
/// been seen.
#[derive(Debug, Clone)]
struct LongTail {
    per_record: usize,
    /// Weight of each bin, in units of `weight` (the next point's weight).
    counts: Vec<f64>,
    total: f64,
    weight: f64,
    /// Each point weighs this much more than the one before (`1 + 1 / history`).
    growth: f64,
    seen: usize,
    record: f64,
    since_refresh: usize,
}

/// Bins of `ln r` per unit, and the bins' range: from r = 1 (below it all in bin 0) to
/// e^(TAIL_BINS / TAIL_BINS_PER_UNIT) ≈ 150 (above it, the last bin).
const TAIL_BINS_PER_UNIT: f64 = 32.0;
const TAIL_BINS: usize = 160;
/// The usual record is re-read every this many points.
const TAIL_REFRESH: usize = 16;

impl LongTail {
    fn new(history: usize, per_record: usize) -> Self {
        Self {
            per_record: if history == 0 { 0 } else { per_record },
            counts: vec![0.0; TAIL_BINS],
            total: 0.0,
            weight: 1.0,
            growth: 1.0 + 1.0 / history.max(1) as f64,
            seen: 0,
            record: 1.0,
            since_refresh: 0,
        }
    }

    fn heap_bytes(&self) -> usize {
        self.counts.capacity() * size_of::<f64>()
    }

    fn usual_record(&self) -> f64 {
        self.record
    }

    fn push(&mut self, ratio: f64) {
        if self.per_record == 0 || !ratio.is_finite() {
            return;
        }
        let bin = (ratio.max(1.0).ln() * TAIL_BINS_PER_UNIT).min((TAIL_BINS - 1) as f64) as usize;
        self.counts[bin] += self.weight;
        self.total += self.weight;
        self.weight *= self.growth;
        if self.weight > 1e200 {
            // Rescaled before the weights overflow; ratios between bins are kept.
            self.counts.iter_mut().for_each(|c| *c /= self.weight);
            self.total /= self.weight;
            self.weight = 1.0;
        }
        self.seen += 1;
        self.since_refresh += 1;
        if self.since_refresh >= TAIL_REFRESH {
            self.since_refresh = 0;
            self.refresh();
        }
    }

    /// The bin (its lower edge) above which one point in `per_record` lies, once that many
    /// points have been seen.
    fn refresh(&mut self) {
        self.record = 1.0;
        if self.seen < self.per_record {
            return;
        }
        let needed = self.total / self.per_record as f64;
        let mut above = 0.0;
        for bin in (1..TAIL_BINS).rev() {
            above += self.counts[bin];
            if above >= needed {
                self.record = (bin as f64 / TAIL_BINS_PER_UNIT).exp();
                return;
            }
        }
    }
}

/// A measure's usual extreme: the second largest of its last `blocks` block maxima (in log
/// units), raised by the peaks of incidents that alerted within `memory` points, and never
/// below `floor`.
#[derive(Debug, Clone)]
struct Extremes {
    block: usize,
    blocks: usize,
    min_blocks: usize,
    memory: usize,
    tick: usize,
    block_max: f64,
    in_block: usize,
    maxima: VecDeque<f64>,
    reference: f64,
    last: f64,
    incident_peak: f64,
    /// (tick, peak) of remembered incidents, oldest first.
    incidents: VecDeque<(usize, f64)>,
    /// `ln(1 + floor)` of the configuration.
    floor: f64,
}

impl Extremes {
    fn new(block: usize, blocks: usize, min_blocks: usize, memory: usize, floor: f64) -> Self {
        Self {
            block: block.max(1),
            blocks: blocks.max(1),
            min_blocks: min_blocks.clamp(1, blocks.max(1)),
            memory,
            tick: 0,
            block_max: 0.0,
            in_block: 0,
            maxima: VecDeque::with_capacity(blocks.max(1)),
            reference: f64::INFINITY,
            last: 0.0,
            incident_peak: 0.0,
            incidents: VecDeque::new(),
            floor: floor.ln_1p(),
        }
    }

    /// `measure` relative to the usual extreme (0 while none is known); then learns it.
    fn ratio(&mut self, measure: f64) -> f64 {
        let measure = measure.ln_1p();
        while self
            .incidents
            .front()
            .is_some_and(|&(tick, _)| tick + self.memory < self.tick)
        {
            self.incidents.pop_front();
        }
        let remembered = self
            .incidents
            .iter()
            .fold(0.0_f64, |peak, &(_, p)| peak.max(p));
        let ratio = measure / self.reference.max(remembered).max(self.floor);
        self.tick += 1;
        self.last = measure;
        self.block_max = self.block_max.max(measure);
        self.in_block += 1;
        if self.in_block == self.block {
            self.close_block();
        }
        ratio
    }

    fn heap_bytes(&self) -> usize {
        self.maxima.capacity() * size_of::<f64>()
            + self.incidents.capacity() * size_of::<(usize, f64)>()
    }

    fn close_block(&mut self) {
        if self.maxima.len() == self.blocks {
            self.maxima.pop_front();
        }
        self.maxima.push_back(self.block_max);
        self.block_max = 0.0;
        self.in_block = 0;
        if self.maxima.len() < self.min_blocks {
            return;
        }
        let mut sorted: Vec<f64> = self.maxima.iter().copied().collect();
        sorted.sort_by(|a, b| b.total_cmp(a));
        self.reference = sorted[1.min(sorted.len() - 1)].max(1e-9);
    }

    fn open_incident(&mut self) {
        self.incident_peak = self.last;
    }

    /// Follows the incident's peak; on `closing`, remembers it.
    fn during_incident(&mut self, closing: bool) {
        self.incident_peak = self.incident_peak.max(self.last);
        if closing {
            self.incidents.push_back((self.tick, self.incident_peak));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE_MS: i64 = 60_000;

    /// Deterministic noise of ±2 around 100, different per `seed`.
    fn noise(i: i64, seed: f64) -> f64 {
        100.0 + 2.0 * ((i as f64 * 12.9898 + seed).sin() * 43_758.547).fract()
    }

    /// The rows (point numbers) that alert, one point a minute.
    fn alerts(values: impl IntoIterator<Item = f64>) -> Vec<usize> {
        let mut scorer = LiveScorer::new(LiveScoreConfig::default());
        values
            .into_iter()
            .enumerate()
            .filter(|&(i, value)| {
                scorer
                    .push(1_700_000_000_000 + i as i64 * MINUTE_MS, value)
                    .alert
            })
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn the_rolling_median_and_mad_match_a_full_sort() {
        let mut rolling = RollingRobust::new(25, 1);
        let values: Vec<f64> = (0..200)
            .map(|i| ((i as f64 * 7.31).sin() * 100.0).round() / 4.0)
            .collect();
        for (i, &value) in values.iter().enumerate() {
            rolling.push(value);
            let mut window: Vec<f64> = values[i.saturating_sub(24)..=i].to_vec();
            window.sort_by(f64::total_cmp);
            let median = window[window.len() / 2];
            let mut deviations: Vec<f64> = window.iter().map(|v| (v - median).abs()).collect();
            deviations.sort_by(f64::total_cmp);
            let mad = deviations[deviations.len() / 2];
            let mean = deviations.iter().sum::<f64>() / deviations.len() as f64;
            assert_eq!(rolling.sorted, window, "row {i}");
            assert_eq!(rolling.median, median, "row {i}");
            let scale = (MAD_TO_SIGMA * mad)
                .max(0.6267 * mean)
                .max(1e-9 + 1e-6 * median.abs());
            assert!((rolling.scale - scale).abs() < 1e-9, "row {i}");
        }
    }

    #[test]
    fn the_nearest_stretch_is_found_among_all_remembered_ones() {
        // A small ring that wraps often, repeated values (equal sums) and jumps far from the
        // last search's place.
        let mut shape = ShapeMemory::new(2, 3, 1, 50);
        for i in 0..3_000 {
            let value = if i % 97 < 5 {
                1e4 * (i / 97) as f64
            } else {
                ((i as f64 * 3.7).sin() * 10.0).round()
            };
            shape.push(value, 1.0);
            let mut live: Vec<u32> = (shape.first_id..shape.next_id)
                .map(|id| (id % shape.capacity) as u32)
                .collect();
            live.sort_by(|&a, &b| compare(&shape.key(a as usize), &shape.key(b as usize)));
            assert_eq!(shape.by_sum, live, "point {i}");
            if shape.recent.len() == 6 && !live.is_empty() {
                let brute_force = live
                    .iter()
                    .map(|&slot| {
                        shape
                            .stretch(slot as usize)
                            .iter()
                            .zip(&shape.current)
                            .map(|(&a, b)| (a - b).abs())
                            .sum::<f64>()
                    })
                    .fold(f64::INFINITY, f64::min);
                assert_eq!(shape.nearest(), brute_force, "point {i}");
            }
        }
    }

    #[test]
    fn an_incident_of_many_points_alerts_once() {
        for seed in [16.0, 0.0, 10.0] {
            let values = (0..1_000)
                .map(|i| noise(i, seed) + if (600..640).contains(&i) { 60.0 } else { 0.0 });
            let alerts = alerts(values);
            assert_eq!(alerts.len(), 1, "seed {seed}: {alerts:?}");
            assert!((600..605).contains(&alerts[0]), "{alerts:?}");
        }
        let values =
            (0..400).map(|i| noise(i, 16.0) + if (250..290).contains(&i) { 60.0 } else { 0.0 });
        let alerts = alerts(values);
        assert!(
            alerts.len() == 1 && (250..260).contains(&alerts[0]),
            "{alerts:?}"
        );
    }

    #[test]
    fn the_first_day_of_a_daily_cycle_is_no_incident() {
        // Five-minute points: a daily sine with noise; 30 points +40% from row 2,500.
        let mut scorer = LiveScorer::new(LiveScoreConfig::default());
        let alerts: Vec<usize> = (0..3_000)
            .filter(|&i| {
                let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
                let noise = ((i as f64 * 12.9898).sin() * 43_758.547).fract();
                let incident = if (2_500..2_530).contains(&i) {
                    1.4
                } else {
                    1.0
                };
                let value = (50.0 + 20.0 * phase.sin() + 3.0 * noise) * incident;
                scorer
                    .push(1_396_310_400_000 + i as i64 * 300_000, value)
                    .alert
            })
            .collect();
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert!((2_500..2_510).contains(&alerts[0]), "{alerts:?}");
    }

    #[test]
    fn missing_values_teach_nothing_and_an_enormous_one_alerts() {
        let with_gaps = (0..600).map(|i| if i % 7 == 0 { f64::NAN } else { noise(i, 2.0) });
        assert_eq!(alerts(with_gaps), Vec::<usize>::new());
        let mut scorer = LiveScorer::new(LiveScoreConfig::default());
        for i in 0..600 {
            scorer.push(i * MINUTE_MS, noise(i, 2.0));
        }
        assert_eq!(scorer.push(600 * MINUTE_MS, f64::INFINITY).score, 0.0);
        let huge = scorer.push(601 * MINUTE_MS, 1e300);
        assert!(huge.alert && huge.score > 0.99, "{huge:?}");
    }

    #[test]
    fn bounded_noise_never_alerts() {
        for seed in 0..20 {
            let values = (0..1_000).map(|i| noise(i, f64::from(seed)));
            assert_eq!(alerts(values), Vec::<usize>::new(), "seed {seed}");
        }
    }

    #[test]
    fn a_recurring_burst_alerts_the_first_time_and_a_stronger_one_alerts_again() {
        // A 40-point burst of +60 every 300 points, the last one +200.
        let values = (0..1_800).map(|i| {
            let burst = if i >= 1_500 { 200.0 } else { 60.0 };
            noise(i, 1.0) + if i >= 150 && i % 300 < 40 { burst } else { 0.0 }
        });
        let alerts = alerts(values);
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        assert!(
            (300..310).contains(&alerts[0]) && (1_500..1_510).contains(&alerts[1]),
            "{alerts:?}"
        );
    }

    #[test]
    fn a_scorer_holds_at_most_128_kib_at_any_step() {
        for step_seconds in [1, 15, 60, 300, 3_600] {
            let mut scorer = LiveScorer::new(LiveScoreConfig::default());
            let points = (14 * 86_400 / step_seconds).min(200_000);
            for i in 0..points {
                scorer.push(i * step_seconds * 1_000, noise(i, 4.0) + 1e9);
            }
            let bytes = scorer.heap_bytes();
            assert!(bytes <= 128 * 1024, "{step_seconds} s step: {bytes} bytes");
            eprintln!("{step_seconds} s step: {bytes} bytes");
        }
    }

    #[test]
    fn a_lasting_level_shift_alerts_once() {
        let values = (0..1_500).map(|i| noise(i, 3.0) + if i >= 400 { 200.0 } else { 0.0 });
        assert_eq!(alerts(values), [400]);
    }
}
