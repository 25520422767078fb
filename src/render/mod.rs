//! Sinks for people: the text report and the PNG chart. JSON is the `Verdict`'s own serde form.

pub mod axis;
pub mod chart;
pub mod text;
pub mod typeset;

use engine::agents::MAX_CONFIDENCE;

/// A confidence as people read it: `87%`, and `≥ 99%` at the cap, never a certainty.
pub fn percent(confidence: f64) -> String {
    if confidence >= MAX_CONFIDENCE {
        "≥ 99%".to_string()
    } else {
        format!("{:.0}%", confidence * 100.0)
    }
}

/// A reading as people read it: four significant digits, no exponent for everyday sizes, and
/// a whole number as such (a count, a generation, a version: `9`, not `9.000`).
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude == 0.0 {
        return "0".to_string();
    }
    if value.fract() == 0.0 && magnitude < 1e15 {
        return format!("{value:.0}");
    }
    if (0.01..1e9).contains(&magnitude) {
        let decimals = (3 - magnitude.log10().floor() as i32).clamp(0, 4) as usize;
        format!("{value:.decimals$}")
    } else {
        format!("{value:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(123.456), "123.5");
        assert_eq!(number(0.012345), "0.0123");
        assert_eq!(number(98765.4), "98765");
        assert_eq!(number(-2.5), "-2.500");
        assert_eq!(number(9.0), "9", "a count");
        assert_eq!(number(-120.0), "-120");
        assert_eq!(number(1_700_000_123.0), "1700000123", "a generation, exact");
    }

    #[test]
    fn a_confidence_is_never_a_certainty() {
        assert_eq!(percent(0.874), "87%");
        assert_eq!(percent(0.99), "≥ 99%");
        assert_eq!(percent(1.0), "≥ 99%");
    }
}
