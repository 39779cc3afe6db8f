//! Inner loops: f32 and int8 dot products of one query against a list of rows, and the equality
//! masks that turn a per-row number (the namespace) into filter bits.
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

/// `out[w] &= m` where bit `j` of `m` says whether `values[64 * w + j] == t` (bits past the end of
/// `values` clear): the mask of a filter on a per-row number, such as the namespace.
pub fn and_eq_masks(values: &[u32], t: u32, out: &mut [u64]) {
    assert_eq!(out.len(), values.len().div_ceil(64), "one mask word per 64 values");
    #[cfg(target_arch = "x86_64")]
    if detected() >= Isa::Avx2 {
        // SAFETY: AVX2 was detected on this CPU.
        unsafe { x86::and_eq_masks_avx2(values, t, out) };
        return;
    }
    and_eq_masks_portable(values, t, out);
}

/// The loop of [`and_eq_masks`], compiled again for AVX2 (where it vectorizes well).
#[inline(always)]
fn and_eq_masks_portable(values: &[u32], t: u32, out: &mut [u64]) {
    for (o, chunk) in out.iter_mut().zip(values.chunks(64)) {
        let mut m = 0u64;
        for (j, &v) in chunk.iter().enumerate() {
            m |= u64::from(v == t) << j;
        }
        *o &= m;
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
    //! Each kernel scores rows four at a time: the query is loaded once per step for four rows,
    //! the four rows keep independent accumulators (no single dependency chain), and the rows of
    //! the group [`AHEAD`] groups later are prefetched line by line, which hides the memory
    //! latency of scattered rows (filtered scans) that the hardware prefetcher cannot predict.

    use super::I8Query;
    use std::arch::x86_64::*;

    /// Rows scored together.
    const GROUP: usize = 4;
    /// How many groups ahead rows are prefetched.
    const AHEAD: usize = 2;

    /// Pointers to the rows of group `i` (rows `i..i + GROUP` of the list).
    #[inline(always)]
    unsafe fn group<T>(base: *const T, stride: usize, rows: &[u32], i: usize) -> [*const T; GROUP] {
        std::array::from_fn(|r| base.add(*rows.get_unchecked(i + r) as usize * stride))
    }

    /// The rows to prefetch while group `i` is scored (the group itself when none is left).
    #[inline(always)]
    unsafe fn ahead<T>(base: *const T, stride: usize, rows: &[u32], i: usize) -> [*const T; GROUP] {
        let a = i + AHEAD * GROUP;
        group(base, stride, rows, if a + GROUP <= rows.len() { a } else { i })
    }

    #[inline(always)]
    unsafe fn prefetch<T>(rows: &[*const T; GROUP], byte: usize) {
        for p in rows {
            _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>().add(byte));
        }
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn and_eq_masks_avx2(values: &[u32], t: u32, out: &mut [u64]) {
        super::and_eq_masks_portable(values, t, out);
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dots_f32_avx2(
        q: &[f32],
        data: &[f32],
        stride: usize,
        rows: &[u32],
        out: &mut [f32],
    ) {
        let (qp, base) = (q.as_ptr(), data.as_ptr());
        let mut i = 0;
        while i + GROUP <= rows.len() {
            let (p, pf) = (group(base, stride, rows, i), ahead(base, stride, rows, i));
            let mut lo = [_mm256_setzero_ps(); GROUP];
            let mut hi = [_mm256_setzero_ps(); GROUP];
            let mut j = 0;
            while j < stride {
                prefetch(&pf, j * 4);
                let (q0, q1) = (_mm256_loadu_ps(qp.add(j)), _mm256_loadu_ps(qp.add(j + 8)));
                for r in 0..GROUP {
                    lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(p[r].add(j)), q0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(p[r].add(j + 8)), q1, hi[r]);
                }
                j += 16;
            }
            let s: [__m256; GROUP] = std::array::from_fn(|r| _mm256_add_ps(lo[r], hi[r]));
            let t = _mm256_hadd_ps(_mm256_hadd_ps(s[0], s[1]), _mm256_hadd_ps(s[2], s[3]));
            let t = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
            _mm_storeu_ps(out.as_mut_ptr().add(i), t);
            i += GROUP;
        }
        for (o, &r) in out[i..].iter_mut().zip(&rows[i..]) {
            let row = base.add(r as usize * stride);
            let mut acc = _mm256_setzero_ps();
            for j in (0..stride).step_by(8) {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(j)), _mm256_loadu_ps(qp.add(j)), acc);
            }
            let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
            let s = _mm_hadd_ps(s, s);
            *o = _mm_cvtss_f32(_mm_hadd_ps(s, s));
        }
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn dots_f32_avx512(
        q: &[f32],
        data: &[f32],
        stride: usize,
        rows: &[u32],
        out: &mut [f32],
    ) {
        let (qp, base) = (q.as_ptr(), data.as_ptr());
        let mut i = 0;
        while i + GROUP <= rows.len() {
            let (p, pf) = (group(base, stride, rows, i), ahead(base, stride, rows, i));
            let mut acc = [_mm512_setzero_ps(); GROUP];
            let mut j = 0;
            while j < stride {
                prefetch(&pf, j * 4);
                let qv = _mm512_loadu_ps(qp.add(j));
                for r in 0..GROUP {
                    acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(p[r].add(j)), qv, acc[r]);
                }
                j += 16;
            }
            for (r, a) in acc.iter().enumerate() {
                *out.get_unchecked_mut(i + r) = _mm512_reduce_add_ps(*a);
            }
            i += GROUP;
        }
        for (o, &r) in out[i..].iter_mut().zip(&rows[i..]) {
            let row = base.add(r as usize * stride);
            let mut acc = _mm512_setzero_ps();
            for j in (0..stride).step_by(16) {
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(row.add(j)), _mm512_loadu_ps(qp.add(j)), acc);
            }
            *o = _mm512_reduce_add_ps(acc);
        }
    }

    /// `acc + sum of |q| * (x * sign(q))` over 32 bytes, as eight i32 lanes.
    #[inline(always)]
    unsafe fn i8_step_avx2(acc: __m256i, qa: __m256i, qs: __m256i, x: __m256i) -> __m256i {
        let prod = _mm256_maddubs_epi16(qa, _mm256_sign_epi8(x, qs));
        _mm256_add_epi32(acc, _mm256_madd_epi16(prod, _mm256_set1_epi16(1)))
    }

    #[target_feature(enable = "avx2")]
    pub unsafe fn dots_i8_avx2(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
    ) {
        let (qa, qc, base) = (q.abs.as_ptr(), q.codes.as_ptr(), data.as_ptr());
        let mut i = 0;
        while i + GROUP <= rows.len() {
            let (p, pf) = (group(base, stride, rows, i), ahead(base, stride, rows, i));
            let mut acc = [_mm256_setzero_si256(); GROUP];
            let mut j = 0;
            while j < stride {
                prefetch(&pf, j);
                for h in [j, j + 32] {
                    let a = _mm256_loadu_si256(qa.add(h).cast());
                    let s = _mm256_loadu_si256(qc.add(h).cast());
                    for r in 0..GROUP {
                        let x = _mm256_loadu_si256(p[r].add(h).cast());
                        acc[r] = i8_step_avx2(acc[r], a, s, x);
                    }
                }
                j += 64;
            }
            let t = _mm256_hadd_epi32(
                _mm256_hadd_epi32(acc[0], acc[1]),
                _mm256_hadd_epi32(acc[2], acc[3]),
            );
            let t = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
            _mm_storeu_si128(out.as_mut_ptr().add(i).cast(), t);
            i += GROUP;
        }
        for (o, &r) in out[i..].iter_mut().zip(&rows[i..]) {
            let row = base.add(r as usize * stride);
            let mut acc = _mm256_setzero_si256();
            for j in (0..stride).step_by(32) {
                let a = _mm256_loadu_si256(qa.add(j).cast());
                let s = _mm256_loadu_si256(qc.add(j).cast());
                acc = i8_step_avx2(acc, a, s, _mm256_loadu_si256(row.add(j).cast()));
            }
            let s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            let s = _mm_hadd_epi32(s, s);
            *o = _mm_cvtsi128_si32(_mm_hadd_epi32(s, s));
        }
    }

    /// The AVX-512 int8 kernels: `step(acc, |q| chunk, row chunk with q's signs applied)`.
    #[inline(always)]
    unsafe fn dots_i8_512(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
        step: impl Fn(__m512i, __m512i, __m512i) -> __m512i,
    ) {
        let (qa, base, zero) = (q.abs.as_ptr(), data.as_ptr(), _mm512_setzero_si512());
        let signed = |x: __m512i, neg: u64| _mm512_mask_sub_epi8(x, neg, zero, x);
        let mut i = 0;
        while i + GROUP <= rows.len() {
            let (p, pf) = (group(base, stride, rows, i), ahead(base, stride, rows, i));
            let mut acc = [zero; GROUP];
            for (c, &neg) in q.neg_masks.iter().enumerate() {
                let j = c * 64;
                prefetch(&pf, j);
                let a = _mm512_loadu_si512(qa.add(j).cast());
                for r in 0..GROUP {
                    let x = signed(_mm512_loadu_si512(p[r].add(j).cast()), neg);
                    acc[r] = step(acc[r], a, x);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                *out.get_unchecked_mut(i + r) = _mm512_reduce_add_epi32(*a);
            }
            i += GROUP;
        }
        for (o, &r) in out[i..].iter_mut().zip(&rows[i..]) {
            let row = base.add(r as usize * stride);
            let mut acc = zero;
            for (c, &neg) in q.neg_masks.iter().enumerate() {
                let j = c * 64;
                let x = signed(_mm512_loadu_si512(row.add(j).cast()), neg);
                acc = step(acc, _mm512_loadu_si512(qa.add(j).cast()), x);
            }
            *o = _mm512_reduce_add_epi32(acc);
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
        dots_i8_512(q, data, stride, rows, out, |acc, a, x| {
            _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(a, x), ones))
        });
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dots_i8_vnni(
        q: &I8Query,
        data: &[i8],
        stride: usize,
        rows: &[u32],
        out: &mut [i32],
    ) {
        dots_i8_512(q, data, stride, rows, out, |acc, a, x| _mm512_dpbusd_epi32(acc, a, x));
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
            // Lists of every length up to a few groups (tails of 0..3 rows, groups whose rows are
            // prefetched ahead and groups with none left to prefetch), repeats, any order.
            for len in 0..=19 {
                let rows: Vec<u32> = (0..len).map(|_| (lcg(&mut seed) % n as u64) as u32).collect();
                let mut want_f = vec![0.0; len];
                let mut want_i = vec![0; len];
                dots_f32(Isa::Scalar, &qf, &df, stride, &rows, &mut want_f);
                dots_i8(Isa::Scalar, &q8, &di, stride, &rows, &mut want_i);
                for isa in available() {
                    let mut got_f = vec![f32::NAN; len];
                    let mut got_i = vec![i32::MIN; len];
                    dots_f32(isa, &qf, &df, stride, &rows, &mut got_f);
                    dots_i8(isa, &q8, &di, stride, &rows, &mut got_i);
                    assert_eq!(got_i, want_i, "{isa:?} int8 stride {stride} rows {rows:?}");
                    for (g, w) in got_f.iter().zip(&want_f) {
                        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{isa:?} f32 {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn kernels_write_only_their_rows_outputs() {
        let q = vec![1.0f32; 16];
        let data = vec![2.0f32; 16 * 9];
        let q8 = I8Query::new(vec![1; 64]);
        let codes = vec![3i8; 64 * 9];
        for isa in available() {
            let mut out = [-1.0f32; 8];
            dots_f32(isa, &q, &data, 16, &[8, 0, 1, 2, 3], &mut out);
            assert_eq!(out, [32.0, 32.0, 32.0, 32.0, 32.0, -1.0, -1.0, -1.0], "{isa:?}");
            let mut out = [-1i32; 8];
            dots_i8(isa, &q8, &codes, 64, &[8, 0, 1, 2, 3], &mut out);
            assert_eq!(out, [192, 192, 192, 192, 192, -1, -1, -1], "{isa:?}");
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
    fn equality_masks_match_a_bit_by_bit_build() {
        let mut seed = 3;
        for len in [0usize, 1, 63, 64, 65, 200] {
            let values: Vec<u32> = (0..len).map(|_| (lcg(&mut seed) % 3) as u32).collect();
            let start: Vec<u64> = (0..len.div_ceil(64)).map(|_| lcg(&mut seed) | 1 << 40).collect();
            let mut got = start.clone();
            and_eq_masks(&values, 1, &mut got);
            let mut want = start;
            for (i, &v) in values.iter().enumerate() {
                if v != 1 {
                    want[i / 64] &= !(1u64 << (i % 64));
                }
            }
            for (w, word) in want.iter_mut().enumerate() {
                let live = len - 64 * w;
                if live < 64 {
                    *word &= (1u64 << live) - 1;
                }
            }
            assert_eq!(got, want, "len {len}");
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
