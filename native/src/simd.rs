//! Inner loops: f32 and int8 dot products of one query against a list of rows.
//!
//! One build runs on any x86-64 CPU: the kernels are compiled for several instruction sets with
//! `#[target_feature]` and the best one the CPU has is picked at run time (AVX-512 VNNI, AVX-512,
//! AVX2 + FMA, then portable code). The int8 kernels compute exact integer dot products:
//! `sum(q * r) = sum(|q| * (r * sign(q)))`, an unsigned-by-signed product that `vpmaddubsw` and
//! `vpdpbusd` take directly; codes lie in [-127, 127], so no step saturates or overflows.
//!
//! Rows are `stride` elements apart, `stride` a multiple of 64 bytes, and padded with zeros.

use std::sync::OnceLock;

/// An instruction set the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Portable code (auto-vectorized for the baseline target).
    Scalar,
    /// AVX2 with FMA.
    Avx2,
    /// AVX-512 F + BW.
    Avx512,
    /// AVX-512 with VNNI (`vpdpbusd`).
    Avx512Vnni,
}

impl Isa {
    /// A short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Avx512Vnni => "avx512vnni",
        }
    }
}

/// Every instruction set this CPU can run, from the portable one up.
pub fn available() -> Vec<Isa> {
    let mut out = vec![Isa::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            out.push(Isa::Avx2);
        }
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
            out.push(Isa::Avx512);
            if is_x86_feature_detected!("avx512vnni") {
                out.push(Isa::Avx512Vnni);
            }
        }
    }
    out
}

/// The best instruction set of this CPU, detected once.
pub fn detected() -> Isa {
    static BEST: OnceLock<Isa> = OnceLock::new();
    *BEST.get_or_init(|| available().into_iter().max().unwrap_or(Isa::Scalar))
}

/// An int8 query prepared for the kernels: its codes, their magnitudes, and per 64-byte chunk a
/// mask of the negative codes.
#[derive(Clone, Debug)]
pub struct I8Query {
    codes: Vec<i8>,
    abs: Vec<u8>,
    neg_masks: Vec<u64>,
}

impl I8Query {
    /// Prepares `codes` (length a multiple of 64, values in [-127, 127]).
    pub fn new(codes: Vec<i8>) -> Self {
        assert!(codes.len().is_multiple_of(64), "int8 query length must be a multiple of 64");
        let abs = codes.iter().map(|&c| c.unsigned_abs()).collect();
        let neg_masks = codes
            .chunks_exact(64)
            .map(|chunk| {
                chunk.iter().enumerate().fold(0u64, |m, (i, &c)| m | (u64::from(c < 0) << i))
            })
            .collect();
        I8Query { codes, abs, neg_masks }
    }

    /// The codes.
    pub fn codes(&self) -> &[i8] {
        &self.codes
    }
}

fn check_args<T>(q_len: usize, data: &[T], stride: usize, rows: &[u32], out_len: usize) {
    assert!(q_len == stride && stride.is_multiple_of(64 / std::mem::size_of::<T>()), "bad stride");
    assert!(out_len >= rows.len(), "output shorter than the row list");
    let max_row = rows.iter().copied().max().unwrap_or(0) as usize;
    assert!(rows.is_empty() || (max_row + 1) * stride <= data.len(), "row out of range");
}

/// `out[i] = dot(q, row rows[i])` in f32.
pub fn dots_f32(isa: Isa, q: &[f32], data: &[f32], stride: usize, rows: &[u32], out: &mut [f32]) {
    check_args(q.len(), data, stride, rows, out.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `check_args` bounds every load; `isa` was detected on this CPU.
    unsafe {
        match isa {
            Isa::Avx512 | Isa::Avx512Vnni if has(isa) => {
                return x86::dots_f32_avx512(q, data, stride, rows, out)
            }
            Isa::Avx2 if has(isa) => return x86::dots_f32_avx2(q, data, stride, rows, out),
            _ => {}
        }
    }
    for (o, &r) in out.iter_mut().zip(rows) {
        let start = r as usize * stride;
        *o = dot_f32_scalar(q, &data[start..start + stride]);
    }
}

/// `out[i] = dot(q, row rows[i])` exactly, in integers.
pub fn dots_i8(isa: Isa, q: &I8Query, data: &[i8], stride: usize, rows: &[u32], out: &mut [i32]) {
    check_args(q.codes.len(), data, stride, rows, out.len());
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `check_args` bounds every load; `isa` was detected on this CPU.
    unsafe {
        match isa {
            Isa::Avx512Vnni if has(isa) => return x86::dots_i8_vnni(q, data, stride, rows, out),
            Isa::Avx512 if has(isa) => return x86::dots_i8_avx512(q, data, stride, rows, out),
            Isa::Avx2 if has(isa) => return x86::dots_i8_avx2(q, data, stride, rows, out),
            _ => {}
        }
    }
    for (o, &r) in out.iter_mut().zip(rows) {
        let start = r as usize * stride;
        *o = dot_i8_scalar(&q.codes, &data[start..start + stride]);
    }
}

/// One f32 dot product of equal-length slices with the detected instruction set.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of slices of different lengths");
    if a.len().is_multiple_of(16) && !a.is_empty() {
        let mut out = [0.0f32];
        dots_f32(detected(), a, b, a.len(), &[0], &mut out);
        out[0]
    } else {
        dot_f32_scalar(a, b)
    }
}

#[cfg(target_arch = "x86_64")]
fn has(isa: Isa) -> bool {
    isa <= detected()
}

fn dot_f32_scalar(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

fn dot_i8_scalar(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::I8Query;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_f32_avx2(
        q: &[f32],
        data: &[f32],
        stride: usize,
        rows: &[u32],
        out: &mut [f32],
    ) {
        let qp = q.as_ptr();
        for (o, &r) in out.iter_mut().zip(rows) {
            let row = data.as_ptr().add(r as usize * stride);
            let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut j = 0;
            while j < stride {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(j)), _mm256_loadu_ps(qp.add(j)), a0);
                a1 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(row.add(j + 8)),
                    _mm256_loadu_ps(qp.add(j + 8)),
                    a1,
                );
                j += 16;
            }
            *o = hsum256_ps(_mm256_add_ps(a0, a1));
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn hsum256_ps(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0b01));
        _mm_cvtss_f32(s)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn dots_f32_avx512(
        q: &[f32],
        data: &[f32],
        stride: usize,
        rows: &[u32],
        out: &mut [f32],
    ) {
        let qp = q.as_ptr();
        for (o, &r) in out.iter_mut().zip(rows) {
            let row = data.as_ptr().add(r as usize * stride);
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let mut j = 0;
            while j + 32 <= stride {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row.add(j)), _mm512_loadu_ps(qp.add(j)), a0);
                a1 = _mm512_fmadd_ps(
                    _mm512_loadu_ps(row.add(j + 16)),
                    _mm512_loadu_ps(qp.add(j + 16)),
                    a1,
                );
                j += 32;
            }
            if j < stride {
                a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row.add(j)), _mm512_loadu_ps(qp.add(j)), a0);
            }
            *o = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dots_i8_avx2(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
    ) {
        let ones = _mm256_set1_epi16(1);
        let (qa, qc) = (q.abs.as_ptr(), q.codes.as_ptr());
        for (o, &r) in out.iter_mut().zip(rows) {
            let row = data.as_ptr().add(r as usize * stride);
            let mut acc = _mm256_setzero_si256();
            let mut j = 0;
            while j < stride {
                let a = _mm256_loadu_si256(qa.add(j).cast());
                let s = _mm256_loadu_si256(qc.add(j).cast());
                let x = _mm256_sign_epi8(_mm256_loadu_si256(row.add(j).cast()), s);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, x), ones));
                j += 32;
            }
            let s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b01_00_11_10));
            let s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0b10_11_00_01));
            *o = _mm_cvtsi128_si32(s);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn dots_i8_avx512(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
    ) {
        let ones = _mm512_set1_epi16(1);
        let zero = _mm512_setzero_si512();
        let qa = q.abs.as_ptr();
        for (o, &r) in out.iter_mut().zip(rows) {
            let row = data.as_ptr().add(r as usize * stride);
            let mut acc = _mm512_setzero_si512();
            for (c, &neg) in q.neg_masks.iter().enumerate() {
                let j = c * 64;
                let x = _mm512_loadu_si512(row.add(j).cast());
                let x = _mm512_mask_sub_epi8(x, neg, zero, x);
                let a = _mm512_loadu_si512(qa.add(j).cast());
                acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, x), ones));
            }
            *o = _mm512_reduce_add_epi32(acc);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dots_i8_vnni(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
    ) {
        let zero = _mm512_setzero_si512();
        let qa = q.abs.as_ptr();
        for (o, &r) in out.iter_mut().zip(rows) {
            let row = data.as_ptr().add(r as usize * stride);
            let mut acc = _mm512_setzero_si512();
            for (c, &neg) in q.neg_masks.iter().enumerate() {
                let j = c * 64;
                let x = _mm512_loadu_si512(row.add(j).cast());
                let x = _mm512_mask_sub_epi8(x, neg, zero, x);
                acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(qa.add(j).cast()), x);
            }
            *o = _mm512_reduce_add_epi32(acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn every_available_kernel_matches_the_portable_one() {
        let mut seed = 42;
        for stride in [64usize, 128, 384, 448] {
            let n = 37;
            let qf: Vec<f32> =
                (0..stride).map(|_| (lcg(&mut seed) % 2001) as f32 / 1000.0 - 1.0).collect();
            let df: Vec<f32> =
                (0..n * stride).map(|_| (lcg(&mut seed) % 2001) as f32 / 1000.0 - 1.0).collect();
            let qi: Vec<i8> =
                (0..stride).map(|_| ((lcg(&mut seed) % 255) as i32 - 127) as i8).collect();
            let di: Vec<i8> =
                (0..n * stride).map(|_| ((lcg(&mut seed) % 255) as i32 - 127) as i8).collect();
            let mut qi_ext = qi.clone();
            qi_ext[0] = -127;
            qi_ext[1] = 127;
            let q8 = I8Query::new(qi_ext);
            let rows: Vec<u32> = vec![0, 5, 36, 2, 2, 17];
            let mut want_f = vec![0.0; rows.len()];
            let mut want_i = vec![0; rows.len()];
            dots_f32(Isa::Scalar, &qf, &df, stride, &rows, &mut want_f);
            dots_i8(Isa::Scalar, &q8, &di, stride, &rows, &mut want_i);
            for isa in available() {
                let mut got_f = vec![0.0; rows.len()];
                let mut got_i = vec![0; rows.len()];
                dots_f32(isa, &qf, &df, stride, &rows, &mut got_f);
                dots_i8(isa, &q8, &di, stride, &rows, &mut got_i);
                assert_eq!(got_i, want_i, "{isa:?} int8 stride {stride}");
                for (g, w) in got_f.iter().zip(&want_f) {
                    assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{isa:?} f32 {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn extreme_codes_do_not_saturate() {
        let q = I8Query::new(vec![-127; 64]);
        let data = vec![-127i8; 64 * 2];
        for isa in available() {
            let mut out = [0; 2];
            dots_i8(isa, &q, &data, 64, &[0, 1], &mut out);
            assert_eq!(out, [64 * 127 * 127; 2], "{isa:?}");
        }
    }

    #[test]
    fn dot_f32_handles_any_length() {
        let a: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let want: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot_f32(&a, &a), want);
        let b: Vec<f32> = (0..32).map(|i| i as f32 * 0.5).collect();
        assert!((dot_f32(&b, &b) - b.iter().map(|x| x * x).sum::<f32>()).abs() < 1e-3);
    }
}
