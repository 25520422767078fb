//! Per-metric alert threshold, as an offset subtracted from the synthesizer's combined
//! log-odds. A false positive raises the offset just above that false alarm's evidence (so
//! the same evidence no longer alerts, and at least a fixed step each time); a confirmation
//! caps it below the confirmed evidence (so what was real stays visible). Offsets live in
//! [0, MAX_OFFSET]. People read the change in words (`describe_change`), not in log-odds.

/// Margin kept between the offset and a judged verdict's evidence, in log-odds.
pub const MARGIN: f64 = 0.5;
/// Smallest raise per false positive, in log-odds.
pub const STEP: f64 = 0.5;
/// Largest offset: above the strongest evidence a verdict can carry (log-odds bounded at
/// ±34.5 per agent, weights up to 1.25, half the weaker agent added when both agree), so that
/// the same data as any false alarm stops alerting — "stay quiet on this" must be felt.
pub const MAX_OFFSET: f64 = 65.0;

/// The learned state for one metric.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MetricThreshold {
    pub offset: f64,
    pub false_positives: u32,
    pub confirmed: u32,
    /// Weakest evidence (log-odds) that people confirmed, if any.
    pub weakest_confirmed: Option<f64>,
}

impl MetricThreshold {
    /// The state after feedback on a verdict whose evidence had `log_odds` (before offset).
    pub fn after_feedback(self, log_odds: f64, confirmed: bool) -> Self {
        let mut next = self;
        if confirmed {
            next.confirmed += 1;
            next.weakest_confirmed =
                Some(self.weakest_confirmed.map_or(log_odds, |w| w.min(log_odds)));
        } else {
            next.false_positives += 1;
            next.offset = (self.offset + STEP).max(log_odds + MARGIN);
        }
        let ceiling = next
            .weakest_confirmed
            .map_or(MAX_OFFSET, |w| (w - MARGIN).min(MAX_OFFSET));
        next.offset = next.offset.clamp(0.0, ceiling.max(0.0));
        next
    }
}

/// What a change of `metric`'s offset means for the people who caused it, in their words.
pub fn describe_change(metric: &str, before: f64, after: f64) -> Option<String> {
    if after >= MAX_OFFSET && before < MAX_OFFSET {
        Some(format!(
            "I will stay quiet on `{metric}`: that alarm was as strong as I can measure, so nothing on `{metric}` alerts until someone confirms one of its verdicts."
        ))
    } else if after > before {
        Some(format!(
            "I will stay quiet on `{metric}` for changes of this size; a clearly larger one still alerts."
        ))
    } else if after < before {
        Some(format!("`{metric}` alerts again on changes like this one."))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_false_positive_lifts_the_offset_above_its_evidence() {
        let t = MetricThreshold::default().after_feedback(2.0, false);
        assert_eq!(t.offset, 2.5);
        assert_eq!(t.false_positives, 1);
        let t = t.after_feedback(1.0, false);
        assert_eq!(t.offset, 3.0, "at least one step per false positive");
    }

    #[test]
    fn a_confirmation_caps_the_offset_below_what_was_real() {
        let t = MetricThreshold::default().after_feedback(6.0, false);
        assert_eq!(t.offset, 6.5);
        let t = t.after_feedback(4.0, true);
        assert_eq!(t.offset, 3.5);
        let t = t.after_feedback(7.0, false);
        assert_eq!(t.offset, 3.5, "never above the weakest confirmed evidence");
    }

    #[test]
    fn changes_are_told_in_words() {
        assert_eq!(describe_change("m", 1.0, 1.0), None);
        let quieter = describe_change("m", 0.0, 3.0).unwrap();
        assert!(
            quieter.contains("stay quiet on `m` for changes of this size"),
            "{quieter}"
        );
        let silent = describe_change("m", 3.0, MAX_OFFSET).unwrap();
        assert!(silent.contains("until someone confirms"), "{silent}");
        let louder = describe_change("m", 3.0, 1.0).unwrap();
        assert!(louder.contains("alerts again"), "{louder}");
    }

    #[test]
    fn the_offset_has_bounds() {
        let mut t = MetricThreshold::default();
        for _ in 0..100 {
            t = t.after_feedback(20.0, false);
        }
        assert_eq!(t.offset, MAX_OFFSET);
        assert_eq!(
            MetricThreshold::default().after_feedback(-3.0, true).offset,
            0.0
        );
    }
}
