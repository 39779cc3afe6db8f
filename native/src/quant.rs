//! Int8 quantization of rows and queries.
//!
//! A row `x` is stored as codes `c = clamp(round(x * (127 / max)), -127, 127)`, computed in f64
//! and rounded half to even (as NumPy's `rint`), so that the NumPy reference gets the same codes
//! bit for bit, even for tiny values; the scale comes either one step per row (`max|x| / 127`, the "per-vector" scale) or one
//! step per dimension (`max |x_d|` over the rows at the last fit, divided by 127: the "range"). A query is
//! multiplied by the per-dimension steps, then quantized with its own per-vector step, so that
//! `dot(q, x) ~= q_step * row_step * sum(q_code * c)` in both modes (row_step is 1 per-dimension).

/// How rows are quantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantization {
    /// No int8 copy: searches scan the f32 rows.
    None,
    /// One scale per row.
    PerVector,
    /// One scale per dimension, refitted as the index grows.
    PerDimension,
}

/// Quantizes `x` with one step per vector into `out`; returns the step (0 for a zero vector).
pub fn quantize_per_vector(x: &[f32], out: &mut [i8]) -> f32 {
    let max = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if max == 0.0 || !max.is_finite() {
        out.iter_mut().for_each(|c| *c = 0);
        return 0.0;
    }
    let inv = 127.0 / f64::from(max);
    for (c, &v) in out.iter_mut().zip(x) {
        *c = to_code(f64::from(v) * inv);
    }
    max / 127.0
}

/// Quantizes `x` with per-dimension inverse steps `inv` (0 for a dimension that is always 0).
pub fn quantize_per_dimension(x: &[f32], inv: &[f64], out: &mut [i8]) {
    for ((c, &v), &s) in out.iter_mut().zip(x).zip(inv) {
        *c = to_code(f64::from(v) * s);
    }
}

/// The per-dimension range fitted to `rows` (each of length `dim`): `max |x_d|`.
pub fn fit_range<'a>(dim: usize, rows: impl Iterator<Item = &'a [f32]>) -> Vec<f32> {
    let mut max = vec![0.0f32; dim];
    for row in rows {
        for (m, &v) in max.iter_mut().zip(row) {
            *m = m.max(v.abs());
        }
    }
    max
}

/// The step of each dimension, `max / 127`.
pub fn steps(range: &[f32]) -> Vec<f32> {
    range.iter().map(|&m| m / 127.0).collect()
}

/// The inverse of each step, `127 / max` in f64, 0 where the range is 0.
pub fn inverse_steps(range: &[f32]) -> Vec<f64> {
    range.iter().map(|&m| if m > 0.0 { 127.0 / f64::from(m) } else { 0.0 }).collect()
}

#[inline]
fn to_code(v: f64) -> i8 {
    // Clamp, then round half to even by adding and removing 1.5 * 2^52 (exact for |v| < 2^51;
    // `round_ties_even` would be a libm call on the baseline x86-64 target). NaN maps to 0.
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    let v = v.clamp(-127.0, 127.0);
    ((v + MAGIC) - MAGIC) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_vector_codes_span_the_range_and_round_half_to_even() {
        let mut out = [0i8; 4];
        let step = quantize_per_vector(&[1.0, -0.5, 0.25, 0.0], &mut out);
        assert_eq!(out, [127, -64, 32, 0]); // -63.5 -> -64 (even), 31.75 -> 32
        assert!((step - 1.0 / 127.0).abs() < 1e-9);
        assert_eq!(quantize_per_vector(&[0.0, 0.0], &mut out[..2]), 0.0);
        quantize_per_vector(&[1e-38, -5e-39, 0.0, f32::MIN_POSITIVE / 4.0], &mut out);
        assert_eq!(out, [127, -64, 0, 37]); // no overflow of 127 / max for tiny rows
        for v in [0.5f64, 1.5, 2.5, -0.5, -1.5, 126.5, -126.5, 3.49, f64::NAN, 1e9, -1e9] {
            let want = v.round_ties_even().clamp(-127.0, 127.0) as i8;
            assert_eq!(to_code(v), want, "{v}");
        }
    }

    #[test]
    fn per_dimension_codes_clamp_values_beyond_the_fit() {
        let rows = [[0.5f32, -2.0], [0.25, 1.0]];
        let range = fit_range(2, rows.iter().map(|r| &r[..]));
        assert_eq!(range, vec![0.5, 2.0]);
        let inv = inverse_steps(&range);
        let mut out = [0i8; 2];
        quantize_per_dimension(&[1.0, -1.0], &inv, &mut out);
        assert_eq!(out, [127, -64]);
        assert_eq!(inverse_steps(&[0.0]), vec![0.0]);
    }
}
