//! Sinks for people: the text report and the PNG chart. JSON is the `Verdict`'s own serde form.

pub mod chart;
pub mod text;

use crate::agents::MAX_CONFIDENCE;

/// A confidence as people read it: `87%`, and `≥ 99%` at the cap, never a certainty.
pub fn percent(confidence: f64) -> String {
    if confidence >= MAX_CONFIDENCE {
        "≥ 99%".to_string()
    } else {
        format!("{:.0}%", confidence * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confidence_is_never_a_certainty() {
        assert_eq!(percent(0.874), "87%");
        assert_eq!(percent(0.99), "≥ 99%");
        assert_eq!(percent(1.0), "≥ 99%");
    }
}
