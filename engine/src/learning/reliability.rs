//! Agent reliability: a Beta(α, β) posterior over "this agent's anomaly vote agrees with what
//! people said", started from a prior of 80% reliability worth ten verdicts. The synthesizer
//! weight is the posterior mean relative to that prior, so an agent with no feedback weighs 1.

/// Prior agreements and disagreements (mean 0.8, as strong as ten observations).
pub const PRIOR_AGREED: f64 = 8.0;
pub const PRIOR_DISAGREED: f64 = 2.0;

/// Weights stay in this range so one agent can never silence or dominate the others.
const MIN_WEIGHT: f64 = 0.25;
const MAX_WEIGHT: f64 = 1.25;

/// Whether an agent's vote agreed with the feedback: it voted anomalous (p ≥ 0.5) exactly
/// when people confirmed the anomaly.
pub fn agreed(anomaly_probability: f64, confirmed: bool) -> bool {
    (anomaly_probability >= 0.5) == confirmed
}

/// Synthesizer weight from the posterior counts (prior included).
pub fn weight(agreed: f64, disagreed: f64) -> f64 {
    let mean = agreed / (agreed + disagreed);
    let prior_mean = PRIOR_AGREED / (PRIOR_AGREED + PRIOR_DISAGREED);
    (mean / prior_mean).clamp(MIN_WEIGHT, MAX_WEIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_feedback_means_weight_one() {
        assert!((weight(PRIOR_AGREED, PRIOR_DISAGREED) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn disagreement_lowers_and_agreement_raises_the_weight() {
        let wrong = weight(PRIOR_AGREED, PRIOR_DISAGREED + 10.0); // mean 0.4 → 0.5
        assert!((wrong - 0.5).abs() < 1e-12);
        let right = weight(PRIOR_AGREED + 10.0, PRIOR_DISAGREED); // mean 0.9 → 1.125
        assert!((right - 1.125).abs() < 1e-12);
        assert_eq!(weight(0.0, 100.0), MIN_WEIGHT);
    }

    #[test]
    fn agreement_is_about_the_vote() {
        assert!(agreed(0.9, true));
        assert!(agreed(0.1, false));
        assert!(!agreed(0.9, false));
    }
}
