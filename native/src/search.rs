//! Search: filters as bitmaps, the exact f32 scan, the int8 scan with an exact f32 rerank of a
//! candidate pool, batch queries, and scoring of an explicit subset.
//!
//! A scan walks the set bits of the selection bitmap, so rows a filter excludes are never read:
//! a filter that keeps 10% of the rows reads about 10% of the bytes.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::bitmap::{ones_in_words, Bitmap};
use crate::error::{Error, Result};
use crate::index::Index;
use crate::quant::{self, Quantization};
use crate::simd::{self, I8Query};
use crate::topk::{Scored, TopK};

/// Rows handed to a kernel at once.
pub(crate) const BLOCK: usize = 256;
/// Bitmap words (64 rows each) per parallel task.
pub(crate) const TASK_WORDS: usize = 64;
/// Below this many rows, building a filter's bitmap runs on one thread: its masks are a byte per
/// row, and waking the pool for 100k rows took longer than the masks (a namespace filter at 100k
/// rows, 0.20 -> 0.175 ms).
const PARALLEL_MIN_ROWS: usize = 256 * 1024;
/// Below this many row bytes to read, a query's scan runs on one thread (waking the pool costs
/// more than it saves).
const PARALLEL_MIN_BYTES: usize = 4 << 20;

/// Which rows a search may return. Unknown names or ids simply match nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only rows of this namespace.
    pub namespace: Option<String>,
    /// Only rows of one of these granularities.
    pub granularities: Option<Vec<String>>,
    /// Only rows marked current.
    pub current_only: bool,
    /// Only rows with one of these ids.
    pub ids: Option<Vec<String>>,
}

impl Filter {
    /// True when the filter keeps every row.
    pub fn is_empty(&self) -> bool {
        self.namespace.is_none()
            && self.granularities.is_none()
            && !self.current_only
            && self.ids.is_none()
    }
}

/// How to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    /// Number of results.
    pub k: usize,
    /// Scan the f32 rows even when an int8 copy exists.
    pub exact: bool,
    /// Size of the int8 candidate pool reranked in f32 (default: [`default_candidates`]).
    pub candidates: Option<usize>,
}

impl SearchOptions {
    /// Top-`k` with the index's default path.
    pub fn top(k: usize) -> Self {
        SearchOptions { k, exact: false, candidates: None }
    }
}

/// Default int8 candidate pool for `k` results.
pub fn default_candidates(k: usize) -> usize {
    k.saturating_mul(4).max(40)
}

/// Per-query state shared by the scan tasks.
pub(crate) struct Prepared {
    pub(crate) q: Vec<f32>,
    pub(crate) q8: Option<I8Query>,
}

/// The rows of a task's bitmap words (`first_word` the number of the first), in lists of at most
/// [`BLOCK`]. A word with all 64 bits set (the common case without a filter, or with a namespace
/// filter over grouped rows) adds its 64 rows at once instead of bit by bit.
pub(crate) fn for_each_block(words: &[u64], first_word: usize, mut f: impl FnMut(&[u32])) {
    let mut rows = [0u32; BLOCK];
    let mut n = 0;
    for (wi, &w) in words.iter().enumerate() {
        let base = ((first_word + wi) * 64) as u32;
        if w == u64::MAX {
            for (b, r) in rows[n..n + 64].iter_mut().enumerate() {
                *r = base + b as u32;
            }
            n += 64;
        } else {
            for b in ones_in_words(&[w], 0) {
                rows[n] = base + b as u32;
                n += 1;
            }
        }
        if n > BLOCK - 64 {
            f(&rows[..n]);
            n = 0;
        }
    }
    if n > 0 {
        f(&rows[..n]);
    }
}

impl Index {
    /// The rows `filter` keeps, as a bitmap over slots (tombstones excluded).
    pub fn selection(&self, filter: Option<&Filter>) -> Cow<'_, Bitmap> {
        let f = match filter {
            Some(f) if !f.is_empty() => f,
            _ => return Cow::Borrowed(&self.alive),
        };
        let n = self.slot_count();
        let ns = match &f.namespace {
            None => None,
            Some(name) => match self.namespaces.get(name) {
                Some(id) => Some(id),
                None => return Cow::Owned(Bitmap::zeros(n)),
            },
        };
        let grans = f.granularities.as_ref().map(|names| {
            let mut ok = vec![false; self.granularities.names().len()];
            for g in names.iter().filter_map(|name| self.granularities.get(name)) {
                ok[g as usize] = true;
            }
            ok
        });
        let id_bits = f.ids.as_ref().map(|ids| {
            let mut b = Bitmap::zeros(n);
            for slot in ids.iter().filter_map(|id| self.slots.get(id.as_str())) {
                b.set(*slot as usize, true);
            }
            b
        });
        let mut words = self.alive.words().to_vec();
        // Chunks of TASK_WORDS words; a chunk the cheap masks (validity, ids) empty is skipped.
        let build = |(ci, chunk): (usize, &mut [u64])| {
            let first = ci * TASK_WORDS;
            for (wi, word) in (first..).zip(chunk.iter_mut()) {
                if f.current_only {
                    *word &= self.current.words()[wi];
                }
                if let Some(b) = &id_bits {
                    *word &= b.words()[wi];
                }
            }
            if chunk.iter().all(|&w| w == 0) {
                return;
            }
            let rows = first * 64..((first + chunk.len()) * 64).min(n);
            if let Some(t) = ns {
                simd::and_eq_masks(&self.namespace[rows.clone()], t, chunk);
            }
            if let Some(ok) = &grans {
                let values = &self.granularity[rows];
                for (word, part) in
                    chunk.iter_mut().zip(values.chunks(64)).filter(|(w, _)| **w != 0)
                {
                    let m = part
                        .iter()
                        .enumerate()
                        .fold(0u64, |m, (j, &g)| m | (u64::from(ok[g as usize]) << j));
                    *word &= m;
                }
            }
        };
        if n >= PARALLEL_MIN_ROWS {
            words.par_chunks_mut(TASK_WORDS).enumerate().for_each(build);
        } else {
            words.chunks_mut(TASK_WORDS).enumerate().for_each(build);
        }
        Cow::Owned(Bitmap::from_words(words, n))
    }

    pub(crate) fn prepare(&self, query: &[f32], int8: bool) -> Result<Prepared> {
        self.check_vector(query, &|| "query".to_owned())?;
        let q = self.normalized(query);
        let q8 = if int8 {
            let mut codes = vec![0i8; self.stride_q];
            match self.quant {
                Quantization::PerVector => {
                    quant::quantize_per_vector(&q[..self.dim], &mut codes[..self.dim]);
                }
                Quantization::PerDimension => {
                    let scaled: Vec<f32> =
                        q.iter().zip(quant::steps(&self.range)).map(|(&x, s)| x * s).collect();
                    quant::quantize_per_vector(&scaled, &mut codes[..self.dim]);
                }
                Quantization::None => return Err(Error::invalid("this index has no int8 copy")),
            }
            Some(I8Query::new(codes))
        } else {
            None
        };
        Ok(Prepared { q, q8 })
    }

    /// Scores every selected row with `score_block` (in lists from [`for_each_block`]) and keeps
    /// the best `k`.
    fn scan<F>(&self, sel: &Bitmap, k: usize, parallel: bool, score_block: F) -> TopK
    where
        F: Fn(&[u32], &mut [f32]) + Sync,
    {
        let run = |words: &[u64], first_word: usize| {
            let mut top = TopK::new(k);
            let mut scores = [0f32; BLOCK];
            for_each_block(words, first_word, |rows| {
                let scores = &mut scores[..rows.len()];
                score_block(rows, scores);
                for (&s, &r) in scores.iter().zip(rows) {
                    top.push(s, r);
                }
            });
            top
        };
        if parallel {
            sel.words()
                .par_chunks(TASK_WORDS)
                .enumerate()
                .map(|(i, w)| run(w, i * TASK_WORDS))
                .reduce(
                    || TopK::new(k),
                    |mut a, b| {
                        a.merge(b);
                        a
                    },
                )
        } else {
            run(sel.words(), 0)
        }
    }

    fn scan_f32(&self, q: &[f32], sel: &Bitmap, k: usize, parallel: bool) -> TopK {
        let isa = simd::detected();
        let data = self.vectors.as_f32();
        self.scan(sel, k, parallel, |rows, out| {
            simd::dots_f32(isa, q, data, self.stride_f, rows, out)
        })
    }

    pub(crate) fn scan_i8(&self, q8: &I8Query, sel: &Bitmap, k: usize, parallel: bool) -> TopK {
        let isa = simd::detected();
        let data = self.codes.as_i8();
        let steps = &self.row_step;
        self.scan(sel, k, parallel, |rows, out| {
            let mut dots = [0i32; BLOCK];
            simd::dots_i8(isa, q8, data, self.stride_q, rows, &mut dots);
            for ((o, &d), &r) in out.iter_mut().zip(&dots).zip(rows) {
                *o = d as f32 * steps[r as usize];
            }
        })
    }

    fn search_prepared(
        &self,
        p: &Prepared,
        opts: &SearchOptions,
        sel: &Bitmap,
        selected: usize,
        parallel: bool,
    ) -> Vec<Scored> {
        let pool = opts.candidates.unwrap_or_else(|| default_candidates(opts.k)).max(opts.k);
        match &p.q8 {
            Some(q8) if selected > pool => {
                let candidates = if self.heads.worth_trying(selected, self.len()) {
                    self.scan_i8_bounded(q8, sel, selected, pool, parallel)
                } else {
                    self.scan_i8(q8, sel, pool, parallel)
                }
                .into_sorted();
                let rows: Vec<u32> = candidates.iter().map(|c| c.slot).collect();
                self.rerank(&p.q, &rows, opts.k)
            }
            _ => self.scan_f32(&p.q, sel, opts.k, parallel).into_sorted(),
        }
    }

    fn rerank(&self, q: &[f32], rows: &[u32], k: usize) -> Vec<Scored> {
        let mut scores = vec![0f32; rows.len()];
        simd::dots_f32(
            simd::detected(),
            q,
            self.vectors.as_f32(),
            self.stride_f,
            rows,
            &mut scores,
        );
        let mut top = TopK::new(k);
        for (&s, &r) in scores.iter().zip(rows) {
            top.push(s, r);
        }
        top.into_sorted()
    }

    /// True when scanning `selected` rows reads enough bytes to be worth several threads.
    fn parallel_scan(&self, selected: usize, int8: bool) -> bool {
        let row_bytes = if int8 { self.stride_q } else { self.stride_f * 4 };
        selected.saturating_mul(row_bytes) >= PARALLEL_MIN_BYTES
    }

    fn uses_int8(&self, opts: &SearchOptions) -> bool {
        !opts.exact && self.quant != Quantization::None
    }

    fn check_options(&self, opts: &SearchOptions) -> Result<()> {
        if opts.k == 0 {
            return Err(Error::invalid("k must be at least 1"));
        }
        if opts.candidates == Some(0) {
            return Err(Error::invalid("candidates must be at least 1"));
        }
        Ok(())
    }

    /// The best `opts.k` rows for `query` among those `filter` keeps, best first.
    pub fn search(
        &self,
        query: &[f32],
        opts: &SearchOptions,
        filter: Option<&Filter>,
    ) -> Result<Vec<Scored>> {
        self.check_options(opts)?;
        let int8 = self.uses_int8(opts);
        let p = self.prepare(query, int8)?;
        let sel = self.selection(filter);
        let selected = sel.count_ones();
        let parallel = self.parallel_scan(selected, int8) && rayon::current_num_threads() > 1;
        Ok(self.search_prepared(&p, opts, &sel, selected, parallel))
    }

    /// [`Index::search`] for each row of `queries` (`m * dim` values, row-major).
    pub fn search_batch(
        &self,
        queries: &[f32],
        opts: &SearchOptions,
        filter: Option<&Filter>,
    ) -> Result<Vec<Vec<Scored>>> {
        self.check_options(opts)?;
        if !queries.len().is_multiple_of(self.dim) {
            return Err(Error::invalid(format!(
                "{} query values is not a whole number of rows of dim {}",
                queries.len(),
                self.dim
            )));
        }
        let int8 = self.uses_int8(opts);
        let prepared = queries
            .chunks_exact(self.dim)
            .enumerate()
            .map(|(i, q)| {
                self.prepare(q, int8).map_err(|e| Error::invalid(format!("query {i}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let sel = self.selection(filter);
        let selected = sel.count_ones();
        let threads = rayon::current_num_threads();
        if prepared.len() >= threads && threads > 1 {
            Ok(prepared
                .par_iter()
                .map(|p| self.search_prepared(p, opts, &sel, selected, false))
                .collect())
        } else {
            let parallel = self.parallel_scan(selected, int8) && threads > 1;
            Ok(prepared
                .iter()
                .map(|p| self.search_prepared(p, opts, &sel, selected, parallel))
                .collect())
        }
    }

    /// Exact scores of `query` against the rows `ids` (every id must exist), best first; equal
    /// scores keep the order of `ids`.
    pub fn score(&self, query: &[f32], ids: &[String]) -> Result<Vec<Scored>> {
        let slots = ids.iter().map(|id| self.slot(id)).collect::<Result<Vec<u32>>>()?;
        let p = self.prepare(query, false)?;
        let mut scores = vec![0f32; slots.len()];
        simd::dots_f32(
            simd::detected(),
            &p.q,
            self.vectors.as_f32(),
            self.stride_f,
            &slots,
            &mut scores,
        );
        let mut out: Vec<Scored> =
            scores.into_iter().zip(slots).map(|(score, slot)| Scored { score, slot }).collect();
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores this close to the k-th one count as ties in comparisons.
    const TIE: f32 = 1e-5;
    use crate::index::tests::{add, strings};
    use crate::index::{Metric, Rows, WriteMode};
    use crate::quant::Quantization;

    fn lcg_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dim)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn build(n: usize, dim: usize, quant: Quantization, metric: Metric) -> (Index, Vec<f32>) {
        let mut ix = Index::new(dim, metric, quant).unwrap();
        let vectors = lcg_vectors(n, dim, 7);
        let ids: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let ns: Vec<String> = (0..n).map(|i| format!("ns{}", i % 10)).collect();
        let gran: Vec<String> = (0..n).map(|i| ["turn", "fact"][i % 2].to_string()).collect();
        let current: Vec<bool> = (0..n).map(|i| i % 3 != 0).collect();
        let rows = Rows {
            ids: &ids,
            vectors: &vectors,
            namespaces: &ns,
            granularities: &gran,
            current: &current,
        };
        ix.write(rows, WriteMode::Insert).unwrap();
        (ix, vectors)
    }

    /// Brute force over the stored rows, in f64; `keep` sees the row number in the id "r{i}".
    fn brute(ix: &Index, q: &[f32], keep: impl Fn(usize) -> bool, k: usize) -> Vec<(f64, u32)> {
        let qn = ix.normalized(q);
        let mut all: Vec<(f64, u32)> = ix
            .alive
            .iter_ones()
            .filter(|&s| keep(ix.id_of(s as u32)[1..].parse().unwrap()))
            .map(|s| {
                let r = ix.row(s as u32);
                (r.iter().zip(&qn).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum(), s as u32)
            })
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(k);
        all
    }

    fn assert_same(got: &[Scored], want: &[(f64, u32)]) {
        assert_eq!(got.len(), want.len());
        let kth = want.last().map_or(0.0, |w| w.0);
        for (g, w) in got.iter().zip(want) {
            assert!((f64::from(g.score) - w.0).abs() < 1e-5, "{g:?} vs {w:?}");
            assert!(g.slot == w.1 || (f64::from(g.score) - kth).abs() < f64::from(TIE));
        }
    }

    #[test]
    fn exact_and_int8_paths_find_the_brute_force_top_k() {
        for quant in [Quantization::None, Quantization::PerVector, Quantization::PerDimension] {
            for metric in [Metric::Cosine, Metric::Dot] {
                let (ix, vectors) = build(3000, 40, quant, metric);
                for qi in 0..5 {
                    let q = &vectors[qi * 40..(qi + 1) * 40];
                    let want = brute(&ix, q, |_| true, 10);
                    let opts = SearchOptions { k: 10, exact: false, candidates: Some(3000) };
                    assert_same(&ix.search(q, &opts, None).unwrap(), &want);
                    let exact = SearchOptions { exact: true, ..SearchOptions::top(10) };
                    assert_same(&ix.search(q, &exact, None).unwrap(), &want);
                    let got = ix.search(q, &SearchOptions::top(10), None).unwrap();
                    let hits = got.iter().filter(|g| want.iter().any(|w| w.1 == g.slot)).count();
                    assert!(hits >= 9, "{quant:?} {metric:?}: recall {hits}/10");
                }
            }
        }
    }

    #[test]
    fn filters_restrict_the_scan() {
        let (mut ix, vectors) = build(5000, 24, Quantization::PerVector, Metric::Cosine);
        ix.remove(&strings(&["r3", "r13"])).unwrap();
        let q = &vectors[..24];
        let f = Filter {
            namespace: Some("ns3".into()),
            granularities: Some(vec!["fact".into(), "nope".into()]),
            current_only: true,
            ids: None,
        };
        let keep = |s: usize| s % 10 == 3 && s % 2 == 1 && !s.is_multiple_of(3);
        let opts = SearchOptions { k: 20, exact: false, candidates: Some(5000) };
        assert_same(&ix.search(q, &opts, Some(&f)).unwrap(), &brute(&ix, q, keep, 20));
        assert_eq!(
            ix.selection(Some(&f)).count_ones(),
            (0..5000).filter(|&s| keep(s) && s != 3 && s != 13).count()
        );
        let unknown = Filter { namespace: Some("zzz".into()), ..Filter::default() };
        assert!(ix.search(q, &opts, Some(&unknown)).unwrap().is_empty());
        let by_id = Filter { ids: Some(strings(&["r7", "r3", "ghost"])), ..Filter::default() };
        let got = ix.search(q, &SearchOptions::top(5), Some(&by_id)).unwrap();
        assert_eq!(got.iter().map(|s| ix.id_of(s.slot)).collect::<Vec<_>>(), vec!["r7"]);
    }

    #[test]
    fn batch_matches_single_queries_and_score_ranks_a_subset() {
        let (ix, vectors) = build(40_000, 16, Quantization::PerVector, Metric::Cosine);
        let queries = &vectors[..16 * 6];
        let batch = ix.search_batch(queries, &SearchOptions::top(7), None).unwrap();
        for (i, got) in batch.iter().enumerate() {
            let one =
                ix.search(&queries[i * 16..(i + 1) * 16], &SearchOptions::top(7), None).unwrap();
            assert_eq!(got, &one);
        }
        let ids = strings(&["r5", "r0", "r9"]);
        let scored = ix.score(&vectors[..16], &ids).unwrap();
        assert_eq!(scored[0].slot, 0);
        assert!((scored[0].score - 1.0).abs() < 1e-5);
        assert!(scored[1].score >= scored[2].score);
        assert!(matches!(
            ix.score(&vectors[..16], &strings(&["r1", "nope"])),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn bad_queries_are_rejected() {
        let mut ix = Index::new(4, Metric::Cosine, Quantization::PerVector).unwrap();
        add(&mut ix, &["a"], &[1.0, 0.0, 0.0, 0.0], "u", "fact");
        let top = SearchOptions::top(1);
        assert!(ix.search(&[1.0, 0.0], &top, None).is_err());
        assert!(ix.search(&[f32::NAN, 0.0, 0.0, 0.0], &top, None).is_err());
        assert!(ix.search(&[0.0; 4], &top, None).is_err());
        assert!(ix.search(&[1.0; 4], &SearchOptions::top(0), None).is_err());
        assert!(ix.search_batch(&[1.0; 6], &top, None).is_err());
        assert_eq!(ix.search(&[1.0; 4], &SearchOptions::top(5), None).unwrap().len(), 1);
    }
}
