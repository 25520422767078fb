//! Shape fingerprint of an incident: the anomalous window with as much context on each side,
//! reduced to 16 piecewise-aggregate means and z-normalised (so level and scale do not
//! matter, only shape), plus its direction and the log of its relative magnitude.

/// Piecewise aggregate segments of the shape.
pub const SEGMENTS: usize = 16;
/// Fingerprint length: the segments, the direction and the log-magnitude.
pub const LENGTH: usize = SEGMENTS + 2;
/// Incidents closer than this are "seen before".
pub const SIMILAR_DISTANCE: f64 = 0.6;

/// A fixed-length shape descriptor.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint(pub [f32; LENGTH]);

impl Fingerprint {
    /// Fingerprint of `values[start..=end]` (with context) whose peak relative deviation is
    /// `magnitude`.
    pub fn of_window(values: &[f64], start: usize, end: usize, magnitude: f64) -> Self {
        let n = values.len();
        let context = (end - start + 1).max(8);
        let low = start.saturating_sub(context);
        let high = (end + context).min(n - 1);
        let shape = z_normalise(&piecewise_aggregate(&values[low..=high], SEGMENTS));
        let mut out = [0.0f32; LENGTH];
        for (slot, v) in out.iter_mut().zip(&shape) {
            *slot = *v as f32;
        }
        out[SEGMENTS] = magnitude.signum() as f32;
        out[SEGMENTS + 1] = magnitude.abs().ln_1p() as f32;
        Self(out)
    }

    /// Shape distance: RMS difference of the normalised shapes, plus the difference of
    /// log-magnitudes, plus 1 when the directions differ.
    pub fn distance(&self, other: &Self) -> f64 {
        let shape = (0..SEGMENTS)
            .map(|i| f64::from(self.0[i] - other.0[i]).powi(2))
            .sum::<f64>()
            / SEGMENTS as f64;
        let direction = if self.0[SEGMENTS] == other.0[SEGMENTS] {
            0.0
        } else {
            1.0
        };
        shape.sqrt() + f64::from((self.0[SEGMENTS + 1] - other.0[SEGMENTS + 1]).abs()) + direction
    }

    /// Little-endian bytes, for a BLOB column.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != LENGTH * 4 {
            return None;
        }
        let mut out = [0.0f32; LENGTH];
        for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *slot = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        Some(Self(out))
    }
}

/// Means of `segments` equal stretches of `values` (a stretch shorter than one point takes the
/// nearest point).
fn piecewise_aggregate(values: &[f64], segments: usize) -> Vec<f64> {
    let n = values.len();
    (0..segments)
        .map(|s| {
            let from = s * n / segments;
            let to = ((s + 1) * n / segments).max(from + 1).min(n);
            let slice = &values[from.min(n - 1)..to];
            slice.iter().sum::<f64>() / slice.len() as f64
        })
        .collect()
}

fn z_normalise(values: &[f64]) -> Vec<f64> {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    if sd < 1e-12 {
        return vec![0.0; values.len()];
    }
    values.iter().map(|v| (v - mean) / sd).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(len: usize, at: usize, low: f64, high: f64) -> Vec<f64> {
        (0..len).map(|i| if i >= at { high } else { low }).collect()
    }

    #[test]
    fn same_shape_at_another_scale_is_identical() {
        let a = Fingerprint::of_window(&step(200, 100, 10.0, 20.0), 100, 120, 1.0);
        let b = Fingerprint::of_window(&step(200, 100, 1000.0, 2000.0), 100, 120, 1.0);
        assert!(a.distance(&b) < 1e-6);
    }

    #[test]
    fn a_step_is_far_from_a_spike_and_from_a_drop() {
        let step_up = Fingerprint::of_window(&step(200, 100, 10.0, 20.0), 100, 120, 1.0);
        let mut spike = vec![10.0; 200];
        spike[110] = 100.0;
        let spike = Fingerprint::of_window(&spike, 110, 110, 9.0);
        let step_down = Fingerprint::of_window(&step(200, 100, 20.0, 10.0), 100, 120, -0.5);
        assert!(step_up.distance(&spike) > SIMILAR_DISTANCE);
        assert!(step_up.distance(&step_down) > SIMILAR_DISTANCE);
    }

    #[test]
    fn bytes_round_trip() {
        let f = Fingerprint::of_window(&step(50, 25, 1.0, 2.0), 25, 30, 1.0);
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()), Some(f));
        assert_eq!(Fingerprint::from_bytes(&[1, 2, 3]), None);
    }
}
