//! The int8 scan with a bound: most rows are ruled out after reading half of their codes.
//!
//! Each int8 row is split in a head (its first [`head_width`] codes, kept again in a contiguous
//! array of heads) and a tail, summarised by its L2 norm. For a query `q`,
//! `dot(q, c) = dot(q_head, c_head) + dot(q_tail, c_tail)` and, by Cauchy–Schwarz, the tail term
//! is at most `|q_tail| |c_tail|`; so the head alone gives every row an upper bound on its int8
//! score. The search then runs in two passes over the selected rows:
//!
//! 1. read the heads: each row's bound, and the best rows by head score;
//! 2. score those best rows in full: the worst of them is a score that the `k`-th best row
//!    reaches at least (the threshold); then score in full only the rows whose bound reaches the
//!    threshold.
//!
//! No row that belongs in the top `k` is skipped, so the result is the plain int8 scan's, row
//! for row (same scores, same order of ties). On embeddings, whose neighbourhoods stand out, the
//! bound rules out almost every row and the scan reads about half the bytes; on data where every
//! row is about as far as any other (uniform random vectors) it rules out nothing, and the first
//! pass is spent for nothing. So the index keeps a running mean of the share of rows that recent
//! queries had to score in full: above [`PAYS_OFF_SHARE`], queries take the plain scan, except
//! one in [`PROBE_EVERY`], which keeps the mean up to date. A scan over less than half of the
//! rows (a filter) takes the plain path: it is short already, its per-query costs (a bound per
//! slot) would weigh more, and a filter lowers the `k`-th best score, and with it what the bound
//! rules out.

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use crate::bitmap::Bitmap;
use crate::index::Index;
use crate::search::{for_each_block, BLOCK, TASK_WORDS};
use crate::simd::{self, I8Query};
use crate::topk::TopK;

/// Above this running share of rows scored in full, the bound does not pay for its first pass.
pub const PAYS_OFF_SHARE: f32 = 0.4;
/// Weight of the latest query in the running share.
const WEIGHT: f32 = 0.2;
/// While the bound does not pay, one query in this many still tries it.
pub const PROBE_EVERY: u32 = 16;
/// Slack added to every bound, in units of the integer dot product, against rounding in f32.
const SLACK: f32 = 1.0;

/// Width of the head of a row of `stride` int8 codes: half the row, rounded down to whole
/// 64-code chunks (the kernels' unit); 0 (no pruning) for rows shorter than two chunks.
pub fn head_width(stride: usize) -> usize {
    if stride < 128 {
        0
    } else {
        (stride / 2) / 64 * 64
    }
}

/// The heads of the int8 rows, contiguous, and the L2 norm of each row's tail.
#[derive(Debug, Default)]
pub struct Heads {
    width: usize,
    codes: Vec<i8>,
    tail_norms: Vec<f32>,
    /// Running mean of the share of selected rows scored in full by bounded scans (f32 bits).
    share: AtomicU32,
    /// Int8 scans asked for, to probe one in [`PROBE_EVERY`] while the bound does not pay.
    asked: AtomicU32,
}

impl Clone for Heads {
    fn clone(&self) -> Self {
        Heads {
            width: self.width,
            codes: self.codes.clone(),
            tail_norms: self.tail_norms.clone(),
            share: AtomicU32::new(self.share.load(Ordering::Relaxed)),
            asked: AtomicU32::new(self.asked.load(Ordering::Relaxed)),
        }
    }
}

impl Heads {
    /// Copies the heads and tail norms of `slots` (and of `more`) from `codes`, rows of `stride`
    /// codes, growing the arrays to `slot_count` rows.
    pub fn sync(
        &mut self,
        codes: &[i8],
        stride: usize,
        slot_count: usize,
        slots: std::ops::Range<usize>,
        more: &[usize],
    ) {
        self.width = head_width(stride);
        let w = self.width;
        if w == 0 {
            return;
        }
        self.codes.resize(slot_count * w, 0);
        self.tail_norms.resize(slot_count, 0.0);
        self.codes[slots.start * w..slots.end * w]
            .par_chunks_mut(w)
            .zip(self.tail_norms[slots.clone()].par_iter_mut())
            .zip(codes[slots.start * stride..slots.end * stride].par_chunks(stride))
            .for_each(|((head, norm), row)| *norm = split(row, head));
        for &s in more {
            let head = &mut self.codes[s * w..(s + 1) * w];
            self.tail_norms[s] = split(&codes[s * stride..(s + 1) * stride], head);
        }
    }

    /// Whether the next int8 scan of `selected` rows out of `live` should use the bound: over
    /// at least half of the rows, while it pays on recent scans, and one scan in
    /// [`PROBE_EVERY`] otherwise.
    pub(crate) fn worth_trying(&self, selected: usize, live: usize) -> bool {
        if self.width == 0 || selected.saturating_mul(2) < live {
            return false;
        }
        let asked = self.asked.fetch_add(1, Ordering::Relaxed);
        self.running_share() <= PAYS_OFF_SHARE || asked.is_multiple_of(PROBE_EVERY)
    }

    /// The running share of rows that recent bounded scans scored in full.
    pub fn running_share(&self) -> f32 {
        f32::from_bits(self.share.load(Ordering::Relaxed))
    }

    fn record(&self, selected: usize, scored: usize) {
        let old = self.running_share();
        let share = scored as f32 / selected.max(1) as f32;
        self.share.store((old + WEIGHT * (share - old)).to_bits(), Ordering::Relaxed);
    }
}

/// Copies the head of `row` into `head` (its length is the head width); returns the tail's norm.
fn split(row: &[i8], head: &mut [i8]) -> f32 {
    let w = head.len();
    head.copy_from_slice(&row[..w]);
    norm(&row[w..])
}

/// The L2 norm of int8 codes (exact sum of squares, then one rounding).
fn norm(codes: &[i8]) -> f32 {
    let sq: i64 = codes.iter().map(|&c| i64::from(c) * i64::from(c)).sum();
    (sq as f64).sqrt() as f32
}

/// Runs `task` on each chunk of [`TASK_WORDS`] bitmap words (with its first word's number), on
/// rayon threads when `parallel`, and merges the selections it returns.
fn merged<F>(words: &[u64], k: usize, parallel: bool, task: F) -> TopK
where
    F: Fn(&[u64], usize) -> TopK + Sync,
{
    let merge = |mut a: TopK, b: TopK| {
        a.merge(b);
        a
    };
    if parallel {
        words
            .par_chunks(TASK_WORDS)
            .enumerate()
            .map(|(i, w)| task(w, i * TASK_WORDS))
            .reduce(|| TopK::new(k), merge)
    } else {
        words
            .chunks(TASK_WORDS)
            .enumerate()
            .map(|(i, w)| task(w, i * TASK_WORDS))
            .fold(TopK::new(k), merge)
    }
}

impl Index {
    /// The best `k` selected rows by int8 score (the plain scan's rows), found with the head
    /// bound. The index must have heads (a row of at least 128 codes).
    pub(crate) fn scan_i8_bounded(
        &self,
        q8: &I8Query,
        sel: &Bitmap,
        selected: usize,
        k: usize,
        parallel: bool,
    ) -> TopK {
        let heads = &self.heads;
        let w = heads.width;
        let q_head = I8Query::new(q8.codes()[..w].to_vec());
        let q_tail = norm(&q8.codes()[w..]);
        let isa = simd::detected();
        let steps = &self.row_step;
        // Pass 1: bounds of every selected row, and the best rows by head score.
        let mut bounds = vec![f32::NEG_INFINITY; sel.words().len() * 64];
        let head_pass = |words: &[u64], first: usize, out: &mut [f32]| {
            let mut top = TopK::new(k);
            let mut dots = [0i32; BLOCK];
            for_each_block(words, first, |rows| {
                let dots = &mut dots[..rows.len()];
                simd::dots_i8(isa, &q_head, &heads.codes, w, rows, dots);
                for (&d, &r) in dots.iter().zip(rows) {
                    let step = steps[r as usize];
                    let reach = d as f32 + q_tail * heads.tail_norms[r as usize] + SLACK;
                    out[r as usize - first * 64] = reach * step;
                    top.push(d as f32 * step, r);
                }
            });
            top
        };
        let chunk = TASK_WORDS * 64;
        let by_head = if parallel {
            sel.words()
                .par_chunks(TASK_WORDS)
                .zip(bounds.par_chunks_mut(chunk))
                .enumerate()
                .map(|(i, (words, out))| head_pass(words, i * TASK_WORDS, out))
                .reduce(
                    || TopK::new(k),
                    |mut a, b| {
                        a.merge(b);
                        a
                    },
                )
        } else {
            let mut top = TopK::new(k);
            for (i, (words, out)) in
                sel.words().chunks(TASK_WORDS).zip(bounds.chunks_mut(chunk)).enumerate()
            {
                top.merge(head_pass(words, i * TASK_WORDS, out));
            }
            top
        };
        // Pass 2: the seeds scored in full give the threshold; then every row that may reach it.
        let seeds: Vec<u32> = by_head.into_sorted().iter().map(|s| s.slot).collect();
        let mut top = self.full_scores(q8, &seeds, k);
        for &s in &seeds {
            bounds[s as usize] = f32::NEG_INFINITY;
        }
        let threshold = top.worst().unwrap_or(f32::NEG_INFINITY);
        let survivors = bounds.iter().filter(|&&b| b >= threshold).count();
        heads.record(selected, survivors + seeds.len());
        let bounds = &bounds;
        let rest = merged(sel.words(), k, parallel, |words, first| {
            let mut keep = Vec::new();
            for_each_block(words, first, |rows| {
                keep.extend(rows.iter().filter(|&&r| bounds[r as usize] >= threshold));
            });
            self.full_scores(q8, &keep, k)
        });
        top.merge(rest);
        top
    }

    /// The best `k` of `rows` by full int8 score.
    fn full_scores(&self, q8: &I8Query, rows: &[u32], k: usize) -> TopK {
        let mut top = TopK::new(k);
        let mut dots = [0i32; BLOCK];
        for block in rows.chunks(BLOCK) {
            let dots = &mut dots[..block.len()];
            simd::dots_i8(simd::detected(), q8, self.codes.as_i8(), self.stride_q, block, dots);
            for (&d, &r) in dots.iter().zip(block) {
                top.push(d as f32 * self.row_step[r as usize], r);
            }
        }
        top
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Metric, Rows, WriteMode};
    use crate::quant::Quantization;
    use crate::search::{Filter, SearchOptions};
    use crate::topk::Scored;

    /// Uniform values in [-1, 1) from a linear congruential generator.
    fn lcg(seed: u64) -> impl FnMut() -> f32 {
        let mut s = seed;
        move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// `n` rows of `dim` values: a centre among `centres` plus `spread` of noise (uniform rows
    /// when `centres` is 0).
    fn rows(n: usize, dim: usize, centres: usize, spread: f32, seed: u64) -> Vec<f32> {
        let mut r = lcg(seed);
        let middles: Vec<f32> = (0..centres.max(1) * dim).map(|_| r()).collect();
        (0..n * dim)
            .map(|i| {
                let c =
                    if centres == 0 { 0.0 } else { middles[(i / dim) % centres * dim + i % dim] };
                c + spread * r()
            })
            .collect()
    }

    fn write(ix: &mut Index, first: usize, vectors: &[f32], mode: WriteMode) {
        let n = vectors.len() / ix.dim();
        let ids: Vec<String> = (first..first + n).map(|i| format!("r{i}")).collect();
        let ns: Vec<String> = (first..first + n).map(|i| format!("ns{}", i % 4)).collect();
        let gran: Vec<String> =
            (first..first + n).map(|i| ["turn", "fact"][i % 2].into()).collect();
        let current = vec![true; n];
        let rows =
            Rows { ids: &ids, vectors, namespaces: &ns, granularities: &gran, current: &current };
        ix.write(rows, mode).unwrap();
    }

    /// The candidate pool of `k` found with the bound and by the plain scan, on one thread and
    /// on several.
    fn pools(ix: &Index, q: &[f32], k: usize, f: Option<&Filter>) -> [Vec<Scored>; 4] {
        let q8 = ix.prepare(q, true).unwrap().q8.unwrap();
        let sel = ix.selection(f);
        let n = sel.count_ones();
        let bounded = |parallel| ix.scan_i8_bounded(&q8, &sel, n, k, parallel).into_sorted();
        let plain = |parallel| ix.scan_i8(&q8, &sel, k, parallel).into_sorted();
        [bounded(false), plain(false), bounded(true), plain(true)]
    }

    fn assert_same_pools(ix: &Index, q: &[f32], k: usize, f: Option<&Filter>, what: &str) {
        let [a, b, c, d] = pools(ix, q, k, f);
        assert_eq!(a.len(), k.min(ix.selection(f).count_ones()), "{what}");
        assert_eq!(a, b, "{what}");
        assert_eq!(c, d, "{what}");
    }

    fn filters() -> [Option<Filter>; 3] {
        let ns = Filter { namespace: Some("ns1".into()), ..Filter::default() };
        let gran = Filter { granularities: Some(vec!["fact".into()]), ..Filter::default() };
        [None, Some(ns), Some(gran)]
    }

    #[test]
    fn the_bound_finds_the_plain_scans_rows_and_pays_off_on_clustered_rows() {
        let dim = 200; // stride 256, head 128
        for quant in [Quantization::PerVector, Quantization::PerDimension] {
            let mut ix = Index::new(dim, Metric::Cosine, quant).unwrap();
            write(&mut ix, 0, &rows(20_000, dim, 50, 0.35, 3), WriteMode::Insert);
            for (qi, q) in rows(12, dim, 50, 0.4, 3).chunks(dim).enumerate() {
                for f in &filters() {
                    for k in [10, 40, 200] {
                        assert_same_pools(&ix, q, k, f.as_ref(), &format!("{quant:?} {qi} {f:?}"));
                    }
                }
            }
            let share = ix.heads.running_share();
            assert!(share < 0.1, "{quant:?}: the bound scored {share} of the rows in full");
            let search = ix.search(&rows(1, dim, 50, 0.4, 4), &SearchOptions::top(10), None);
            assert_eq!(search.unwrap().len(), 10);
        }
    }

    #[test]
    fn heads_follow_updates_removals_compaction_and_reloading() {
        let dim = 128;
        let mut ix = Index::new(dim, Metric::Cosine, Quantization::PerVector).unwrap();
        write(&mut ix, 0, &rows(6_000, dim, 30, 0.3, 5), WriteMode::Insert);
        write(&mut ix, 0, &rows(2_000, dim, 30, 0.3, 6), WriteMode::Update);
        write(&mut ix, 6_000, &rows(500, dim, 30, 0.3, 7), WriteMode::Insert);
        let gone: Vec<String> =
            (0..6_500).filter(|i| i % 3 == 0).map(|i| format!("r{i}")).collect();
        ix.remove(&gone).unwrap();
        let check = |ix: &Index| {
            let mut fresh = Heads::default();
            let slots = ix.slot_count();
            fresh.sync(ix.codes.as_i8(), ix.stride_q, slots, 0..slots, &[]);
            assert_eq!(fresh.codes, ix.heads.codes);
            assert_eq!(fresh.tail_norms, ix.heads.tail_norms);
            for q in rows(4, dim, 30, 0.35, 8).chunks(dim) {
                assert_same_pools(ix, q, 40, None, "after changes");
            }
        };
        check(&ix);
        ix.compact();
        check(&ix);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ix.bin");
        ix.save(&path).unwrap();
        for mmap in [false, true] {
            check(&Index::load(&path, mmap).unwrap());
        }
    }

    #[test]
    fn on_uniform_rows_most_scans_go_plain_and_one_in_sixteen_probes() {
        let dim = 128;
        let mut ix = Index::new(dim, Metric::Cosine, Quantization::PerVector).unwrap();
        write(&mut ix, 0, &rows(8_000, dim, 0, 1.0, 9), WriteMode::Insert);
        let queries = rows(4, dim, 0, 1.0, 10);
        for q in queries.chunks(dim) {
            assert_same_pools(&ix, q, 40, None, "uniform");
        }
        let q = &queries[..dim];
        let n = ix.len();
        assert!(ix.heads.running_share() > PAYS_OFF_SHARE, "the bound paid on uniform rows");
        let tried: Vec<bool> = (0..2 * PROBE_EVERY).map(|_| ix.heads.worth_trying(n, n)).collect();
        assert_eq!(tried.iter().filter(|&&t| t).count(), 2);
        ix.heads.share.store(0, Ordering::Relaxed);
        assert!(ix.heads.worth_trying(n / 2, n) && !ix.heads.worth_trying(n / 2 - 1, n));
        assert_eq!(ix.search(q, &SearchOptions::top(10), None).unwrap().len(), 10);
    }

    #[test]
    fn a_head_is_half_a_row_in_whole_chunks() {
        assert_eq!([64, 128, 384, 448, 768].map(head_width), [0, 64, 192, 192, 384]);
    }
}
