//! The vector index: rows addressed by string ids, stored as f32 (and int8 codes), with per-row
//! metadata for filters. Rows live in dense slots; a delete leaves a tombstone until compaction.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::bitmap::Bitmap;
use crate::buffer::Buffer;
use crate::error::{Error, Result};
use crate::prune::Heads;
use crate::quant::{self, Quantization};

/// Largest supported dimension.
pub const MAX_DIM: usize = 1 << 16;

/// Compaction runs on its own once tombstones outnumber live rows and exceed this count.
pub const AUTO_COMPACT_MIN_DEAD: usize = 1024;

/// Similarity measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Rows and queries are L2-normalised; the score is their cosine.
    Cosine,
    /// Raw inner product.
    Dot,
}

impl Metric {
    /// Parses `"cosine"` or `"dot"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cosine" => Ok(Metric::Cosine),
            "dot" => Ok(Metric::Dot),
            _ => Err(Error::invalid(format!("unknown metric {s:?}: use 'cosine' or 'dot'"))),
        }
    }

    /// The name `parse` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Dot => "dot",
        }
    }
}

impl Quantization {
    /// Parses `"f32"`, `"int8"` (per-vector scale) or `"int8_dim"` (per-dimension scale).
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Quantization::None),
            "int8" => Ok(Quantization::PerVector),
            "int8_dim" => Ok(Quantization::PerDimension),
            _ => Err(Error::invalid(format!(
                "unknown storage {s:?}: use 'f32', 'int8' or 'int8_dim'"
            ))),
        }
    }

    /// The name `parse` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Quantization::None => "f32",
            Quantization::PerVector => "int8",
            Quantization::PerDimension => "int8_dim",
        }
    }
}

/// Strings (namespaces, granularities) stored once and referred to by a small number.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    /// Builds an interner from distinct names.
    pub fn from_names(names: Vec<String>) -> Result<Self> {
        let mut ids = HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            if ids.insert(n.clone(), i as u32).is_some() {
                return Err(Error::corrupt(format!("name {n:?} listed twice")));
            }
        }
        Ok(Interner { names, ids })
    }

    /// The number of `name`, added if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.ids.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), i);
        i
    }

    /// The number of `name`, if known.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name numbered `i`.
    pub fn name(&self, i: u32) -> &str {
        &self.names[i as usize]
    }

    /// All names, by number.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// A batch of rows to write. Metadata slices hold one value per row, or one value for all rows.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    /// Row ids (non-empty, distinct).
    pub ids: &'a [String],
    /// `ids.len() * dim` values, row-major.
    pub vectors: &'a [f32],
    /// Namespace of each row.
    pub namespaces: &'a [String],
    /// Granularity of each row.
    pub granularities: &'a [String],
    /// Whether each row is currently valid.
    pub current: &'a [bool],
}

/// What a write may do with ids already present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// Every id must be new.
    Insert,
    /// Every id must exist.
    Update,
    /// Insert new ids, overwrite existing ones.
    Upsert,
}

/// The index. See the crate documentation for the search paths.
#[derive(Clone, Debug)]
pub struct Index {
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) quant: Quantization,
    /// f32 elements per stored row (`dim` rounded up to 16).
    pub(crate) stride_f: usize,
    /// int8 codes per stored row (`dim` rounded up to 64).
    pub(crate) stride_q: usize,
    pub(crate) vectors: Buffer,
    pub(crate) codes: Buffer,
    /// Heads and tail norms of the int8 rows, for the pruned scan ([`crate::prune`]).
    pub(crate) heads: Heads,
    /// Per-slot quantization step (1 with per-dimension steps).
    pub(crate) row_step: Vec<f32>,
    /// Per-dimension range `max |x_d|` at the last fit (per-dimension quantization only).
    pub(crate) range: Vec<f32>,
    /// Live rows at the last per-dimension fit.
    pub(crate) fitted_rows: usize,
    pub(crate) ids: Vec<String>,
    pub(crate) slots: HashMap<String, u32>,
    pub(crate) alive: Bitmap,
    pub(crate) current: Bitmap,
    pub(crate) namespace: Vec<u32>,
    pub(crate) granularity: Vec<u32>,
    pub(crate) namespaces: Interner,
    pub(crate) granularities: Interner,
}

fn meta_at<T>(values: &[T], i: usize) -> &T {
    if values.len() == 1 {
        &values[0]
    } else {
        &values[i]
    }
}

impl Index {
    /// An empty index of `dim`-dimensional rows.
    pub fn new(dim: usize, metric: Metric, quant: Quantization) -> Result<Self> {
        if dim == 0 || dim > MAX_DIM {
            return Err(Error::invalid(format!("dim must be in 1..={MAX_DIM}, got {dim}")));
        }
        Ok(Index {
            dim,
            metric,
            quant,
            stride_f: dim.next_multiple_of(16),
            stride_q: if quant == Quantization::None { 0 } else { dim.next_multiple_of(64) },
            vectors: Buffer::default(),
            codes: Buffer::default(),
            heads: Heads::default(),
            row_step: Vec::new(),
            range: if quant == Quantization::PerDimension { vec![0.0; dim] } else { Vec::new() },
            fitted_rows: 0,
            ids: Vec::new(),
            slots: HashMap::new(),
            alive: Bitmap::default(),
            current: Bitmap::default(),
            namespace: Vec::new(),
            granularity: Vec::new(),
            namespaces: Interner::default(),
            granularities: Interner::default(),
        })
    }

    /// Dimension of the rows.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Similarity measure.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Quantization of the int8 copy.
    pub fn quantization(&self) -> Quantization {
        self.quant
    }

    /// Number of live rows.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no row is live.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Number of slots, tombstones included.
    pub fn slot_count(&self) -> usize {
        self.ids.len()
    }

    /// True when `id` is a live row.
    pub fn contains(&self, id: &str) -> bool {
        self.slots.contains_key(id)
    }

    /// Live ids in slot order.
    pub fn ids(&self) -> Vec<&str> {
        self.alive.iter_ones().map(|s| self.ids[s].as_str()).collect()
    }

    /// The id stored in `slot`.
    pub fn id_of(&self, slot: u32) -> &str {
        &self.ids[slot as usize]
    }

    /// True while the row data still reads from a memory-mapped file.
    pub fn is_mapped(&self) -> bool {
        self.vectors.is_mapped() || self.codes.is_mapped()
    }

    /// The slot of a live id, or `NotFound`.
    pub(crate) fn slot(&self, id: &str) -> Result<u32> {
        self.slots.get(id).copied().ok_or_else(|| Error::NotFound(format!("unknown id {id:?}")))
    }

    /// The stored (normalised) f32 row of `slot`, without padding.
    pub fn row(&self, slot: u32) -> &[f32] {
        let start = slot as usize * self.stride_f;
        &self.vectors.as_f32()[start..start + self.dim]
    }

    /// Checks a row or query: its length, finite values, and a non-zero norm under cosine.
    pub(crate) fn check_vector(&self, v: &[f32], what: &dyn Fn() -> String) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::invalid(format!(
                "{} has {} values, expected dim {}",
                what(),
                v.len(),
                self.dim
            )));
        }
        if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(format!("{} has a non-finite value at {pos}", what())));
        }
        if self.metric == Metric::Cosine && v.iter().all(|&x| x == 0.0) {
            return Err(Error::invalid(format!("{} is all zeros: no cosine is defined", what())));
        }
        Ok(())
    }

    /// Writes `v` as stored into `out` (length `stride_f`): normalised under cosine, zero padded.
    pub(crate) fn store_into(&self, v: &[f32], out: &mut [f32]) {
        match self.metric {
            Metric::Dot => out[..self.dim].copy_from_slice(v),
            Metric::Cosine => {
                let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
                for (o, &x) in out.iter_mut().zip(v) {
                    *o = (f64::from(x) / norm) as f32;
                }
            }
        }
        out[self.dim..].fill(0.0);
    }

    /// `v` as stored, in a new vector of length `stride_f`.
    pub(crate) fn normalized(&self, v: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; self.stride_f];
        self.store_into(v, &mut out);
        out
    }

    /// Adds, updates or upserts a batch; nothing changes unless the whole batch is valid.
    ///
    /// New rows take fresh slots grouped by namespace (in order of first appearance), so that a
    /// namespace filter reads runs of adjacent rows rather than rows scattered over the index.
    pub fn write(&mut self, rows: Rows<'_>, mode: WriteMode) -> Result<()> {
        let n = rows.ids.len();
        self.check_batch(&rows, mode)?;
        let ns: Vec<u32> =
            (0..n).map(|i| self.namespaces.intern(meta_at(rows.namespaces, i).as_str())).collect();
        let gran: Vec<u32> = (0..n)
            .map(|i| self.granularities.intern(meta_at(rows.granularities, i).as_str()))
            .collect();
        let (mut fresh, updated): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| !self.slots.contains_key(rows.ids[i].as_str()));
        fresh.sort_by_key(|&i| ns[i]);
        let start = self.slot_count();
        self.grow(fresh.len());
        for &i in &fresh {
            let slot = self.ids.len() as u32;
            self.ids.push(rows.ids[i].clone());
            self.slots.insert(rows.ids[i].clone(), slot);
            self.alive.push(true);
            self.current.push(*meta_at(rows.current, i));
            self.namespace.push(ns[i]);
            self.granularity.push(gran[i]);
            self.row_step.push(1.0);
        }
        let (dim, sf) = (self.dim, self.stride_f);
        let mut vectors = std::mem::take(&mut self.vectors);
        {
            // New rows fill one contiguous range of slots: normalise them in parallel.
            let this = &*self;
            vectors.as_f32_mut()[start * sf..]
                .par_chunks_mut(sf)
                .zip(fresh.par_iter())
                .for_each(|(out, &i)| this.store_into(&rows.vectors[i * dim..(i + 1) * dim], out));
            for &i in &updated {
                let slot = this.slots[rows.ids[i].as_str()] as usize;
                let out = &mut vectors.as_f32_mut()[slot * sf..(slot + 1) * sf];
                this.store_into(&rows.vectors[i * dim..(i + 1) * dim], out);
            }
        }
        self.vectors = vectors;
        for &i in &updated {
            let slot = self.slots[rows.ids[i].as_str()] as usize;
            self.namespace[slot] = ns[i];
            self.granularity[slot] = gran[i];
            self.current.set(slot, *meta_at(rows.current, i));
        }
        let refit = self.quant == Quantization::PerDimension
            && !fresh.is_empty()
            && (self.fitted_rows == 0 || self.len() >= 2 * self.fitted_rows);
        if refit {
            self.refit();
        } else {
            let more: Vec<usize> =
                updated.iter().map(|&i| self.slots[rows.ids[i].as_str()] as usize).collect();
            self.quantize_slots(start..self.slot_count(), &more);
        }
        Ok(())
    }

    fn check_batch(&self, rows: &Rows<'_>, mode: WriteMode) -> Result<()> {
        let n = rows.ids.len();
        if rows.vectors.len() != n * self.dim {
            return Err(Error::invalid(format!(
                "{} vector values for {n} ids of dim {}",
                rows.vectors.len(),
                self.dim
            )));
        }
        for (name, len) in [
            ("namespaces", rows.namespaces.len()),
            ("granularities", rows.granularities.len()),
            ("current", rows.current.len()),
        ] {
            if len != n && len != 1 {
                return Err(Error::invalid(format!("{name} has {len} values for {n} rows")));
            }
        }
        let mut seen = HashSet::with_capacity(n);
        let mut fresh = 0usize;
        for (i, id) in rows.ids.iter().enumerate() {
            if id.is_empty() {
                return Err(Error::invalid(format!("id at position {i} is empty")));
            }
            if !seen.insert(id.as_str()) {
                return Err(Error::invalid(format!("id {id:?} appears twice in the batch")));
            }
            let exists = self.slots.contains_key(id.as_str());
            match mode {
                WriteMode::Insert if exists => {
                    return Err(Error::invalid(format!("id {id:?} is already in the index")))
                }
                WriteMode::Update if !exists => {
                    return Err(Error::NotFound(format!("unknown id {id:?}")))
                }
                _ => {}
            }
            fresh += usize::from(!exists);
        }
        if self.slot_count() + fresh > u32::MAX as usize {
            return Err(Error::invalid("the index cannot hold more than 2^32 - 1 slots"));
        }
        let dim = self.dim;
        let bad = rows.vectors.par_chunks(dim).position_first(|v| {
            v.iter().any(|x| !x.is_finite())
                || (self.metric == Metric::Cosine && v.iter().all(|&x| x == 0.0))
        });
        if let Some(i) = bad {
            let v = &rows.vectors[i * dim..(i + 1) * dim];
            self.check_vector(v, &|| format!("row {:?}", rows.ids[i]))?;
        }
        Ok(())
    }

    /// Makes room for `extra` more slots in the row buffers.
    fn grow(&mut self, extra: usize) {
        let slots = self.slot_count() + extra;
        if self.vectors.len() < slots * self.stride_f * 4 {
            self.vectors.resize(slots * self.stride_f * 4);
        }
        if self.codes.len() < slots * self.stride_q {
            self.codes.resize(slots * self.stride_q);
        }
    }

    /// Requantizes the rows of the slots `range` in parallel, then those in `more`.
    fn quantize_slots(&mut self, range: std::ops::Range<usize>, more: &[usize]) {
        let (sf, sq, dim, quant) = (self.stride_f, self.stride_q, self.dim, self.quant);
        if quant == Quantization::None {
            return;
        }
        let inv = quant::inverse_steps(&self.range);
        let one = |row: &[f32], out: &mut [i8], step: &mut f32| match quant {
            Quantization::PerVector => {
                *step = quant::quantize_per_vector(&row[..dim], &mut out[..dim])
            }
            _ => quant::quantize_per_dimension(&row[..dim], &inv, &mut out[..dim]),
        };
        let vectors = self.vectors.as_f32();
        let codes = self.codes.as_i8_mut();
        let (range_start, range_end) = (range.start, range.end);
        codes[range.start * sq..range.end * sq]
            .par_chunks_mut(sq)
            .zip(vectors[range.start * sf..range.end * sf].par_chunks(sf))
            .zip(self.row_step[range].par_iter_mut())
            .for_each(|((out, row), step)| one(row, out, step));
        for &s in more {
            one(
                &vectors[s * sf..(s + 1) * sf],
                &mut codes[s * sq..(s + 1) * sq],
                &mut self.row_step[s],
            );
        }
        let slots = self.slot_count();
        self.heads.sync(self.codes.as_i8(), sq, slots, range_start..range_end, more);
    }

    /// Rebuilds the heads of every row (after the codes were copied or loaded).
    pub(crate) fn sync_heads(&mut self) {
        if self.quant != Quantization::None {
            let slots = self.slot_count();
            self.heads.sync(self.codes.as_i8(), self.stride_q, slots, 0..slots, &[]);
        }
    }

    /// Refits the per-dimension ranges to the live rows and requantizes them.
    fn refit(&mut self) {
        let (sf, dim) = (self.stride_f, self.dim);
        let data = self.vectors.as_f32();
        let live = self.alive.iter_ones().map(|s| &data[s * sf..s * sf + dim]);
        self.range = quant::fit_range(dim, live);
        self.fitted_rows = self.len();
        self.quantize_slots(0..self.slot_count(), &[]);
    }

    /// Deletes rows (tombstones). Every id must exist; repeated ids are removed once.
    pub fn remove(&mut self, ids: &[String]) -> Result<()> {
        let slots = ids.iter().map(|id| self.slot(id)).collect::<Result<Vec<u32>>>()?;
        for (slot, id) in slots.into_iter().zip(ids) {
            if self.slots.remove(id.as_str()).is_some() {
                self.alive.set(slot as usize, false);
                self.ids[slot as usize].clear();
            }
        }
        let dead = self.slot_count() - self.len();
        if dead >= AUTO_COMPACT_MIN_DEAD && dead > self.len() {
            self.compact();
        }
        Ok(())
    }

    /// Marks rows as currently valid or not. Every id must exist.
    pub fn set_current(&mut self, ids: &[String], current: bool) -> Result<()> {
        let slots = ids.iter().map(|id| self.slot(id)).collect::<Result<Vec<u32>>>()?;
        for slot in slots {
            self.current.set(slot as usize, current);
        }
        Ok(())
    }

    /// Drops tombstones: live rows move to dense slots, grouped by namespace (then by slot), so
    /// that a namespace filter reads adjacent rows; per-dimension ranges are refitted.
    pub fn compact(&mut self) {
        let mut live: Vec<usize> = self.alive.iter_ones().collect();
        live.sort_by_key(|&s| self.namespace[s]);
        let mut next = Index::new(self.dim, self.metric, self.quant)
            .expect("the dimension of an existing index is valid");
        let n = live.len();
        next.vectors = Buffer::zeroed(n * self.stride_f * 4);
        next.codes = Buffer::zeroed(n * self.stride_q);
        let (sf, sq) = (self.stride_f, self.stride_q);
        let (src_v, src_c) = (self.vectors.as_f32(), self.codes.as_i8());
        next.vectors.as_f32_mut().par_chunks_mut(sf).zip(live.par_iter()).for_each(|(d, &old)| {
            d.copy_from_slice(&src_v[old * sf..(old + 1) * sf]);
        });
        if sq > 0 {
            next.codes.as_i8_mut().par_chunks_mut(sq).zip(live.par_iter()).for_each(|(d, &old)| {
                d.copy_from_slice(&src_c[old * sq..(old + 1) * sq]);
            });
        }
        for (new, &old) in live.iter().enumerate() {
            let id = std::mem::take(&mut self.ids[old]);
            next.slots.insert(id.clone(), new as u32);
            next.ids.push(id);
            next.alive.push(true);
            next.current.push(self.current.get(old));
            next.namespace.push(next.namespaces.intern(self.namespaces.name(self.namespace[old])));
            next.granularity
                .push(next.granularities.intern(self.granularities.name(self.granularity[old])));
            next.row_step.push(self.row_step[old]);
        }
        next.range = self.range.clone();
        next.fitted_rows = self.fitted_rows;
        if self.quant == Quantization::PerDimension {
            next.refit();
        } else {
            next.sync_heads();
        }
        *self = next;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn strings(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    pub(crate) fn add(index: &mut Index, ids: &[&str], vectors: &[f32], ns: &str, gran: &str) {
        let ids = strings(ids);
        let rows = Rows {
            ids: &ids,
            vectors,
            namespaces: &[ns.to_string()],
            granularities: &[gran.to_string()],
            current: &[true],
        };
        index.write(rows, WriteMode::Insert).unwrap();
    }

    #[test]
    fn insert_update_remove_compact() {
        let mut ix = Index::new(3, Metric::Cosine, Quantization::PerVector).unwrap();
        add(&mut ix, &["a", "b", "c"], &[3.0, 4.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0], "u", "fact");
        assert_eq!(ix.len(), 3);
        assert_eq!(ix.row(0), &[0.6, 0.8, 0.0]);
        let ids = strings(&["b"]);
        let rows = Rows {
            ids: &ids,
            vectors: &[1.0, 0.0, 0.0],
            namespaces: &strings(&["v"]),
            granularities: &strings(&["turn"]),
            current: &[false],
        };
        ix.write(rows, WriteMode::Update).unwrap();
        assert_eq!(ix.row(1), &[1.0, 0.0, 0.0]);
        assert!(!ix.current.get(1));
        ix.remove(&strings(&["a"])).unwrap();
        assert!(!ix.contains("a"));
        assert_eq!(ix.ids(), vec!["b", "c"]);
        ix.compact(); // rows regroup by namespace: c ("u", interned first) before b ("v")
        assert_eq!(ix.slot_count(), 2);
        assert_eq!(ix.ids(), vec!["c", "b"]);
        assert_eq!(ix.row(1), &[1.0, 0.0, 0.0]);
        assert_eq!(ix.namespaces.names(), &strings(&["u", "v"])[..]);
    }

    #[test]
    fn bad_batches_change_nothing() {
        let mut ix = Index::new(2, Metric::Cosine, Quantization::PerVector).unwrap();
        add(&mut ix, &["a"], &[1.0, 0.0], "u", "fact");
        let cases: Vec<(Vec<String>, Vec<f32>, WriteMode)> = vec![
            (strings(&["a"]), vec![1.0, 1.0], WriteMode::Insert),
            (strings(&["x"]), vec![1.0, 1.0], WriteMode::Update),
            (strings(&["x", "x"]), vec![1.0, 1.0, 1.0, 1.0], WriteMode::Upsert),
            (strings(&["x", "y"]), vec![1.0, 1.0, f32::NAN, 1.0], WriteMode::Upsert),
            (strings(&["x"]), vec![0.0, 0.0], WriteMode::Upsert),
            (strings(&["x"]), vec![1.0], WriteMode::Upsert),
            (strings(&[""]), vec![1.0, 1.0], WriteMode::Upsert),
        ];
        for (ids, vectors, mode) in cases {
            let rows = Rows {
                ids: &ids,
                vectors: &vectors,
                namespaces: &strings(&["u"]),
                granularities: &strings(&["fact"]),
                current: &[true],
            };
            assert!(ix.write(rows, mode).is_err(), "{ids:?} {vectors:?} {mode:?}");
            assert_eq!(ix.ids(), vec!["a"]);
            assert_eq!(ix.slot_count(), 1);
        }
        assert!(matches!(ix.remove(&strings(&["a", "nope"])), Err(Error::NotFound(_))));
        assert!(ix.contains("a"));
    }

    #[test]
    fn many_deletes_compact_on_their_own() {
        let mut ix = Index::new(2, Metric::Dot, Quantization::None).unwrap();
        let ids: Vec<String> = (0..3000).map(|i| format!("r{i}")).collect();
        let vectors: Vec<f32> = (0..6000).map(|i| i as f32).collect();
        let rows = Rows {
            ids: &ids,
            vectors: &vectors,
            namespaces: &strings(&["u"]),
            granularities: &strings(&["fact"]),
            current: &[true],
        };
        ix.write(rows, WriteMode::Insert).unwrap();
        ix.remove(&ids[..2000]).unwrap();
        assert_eq!(ix.slot_count(), 1000);
        assert_eq!(ix.row(0), &[4000.0, 4001.0]);
    }

    #[test]
    fn per_dimension_ranges_refit_as_the_index_doubles() {
        let mut ix = Index::new(2, Metric::Dot, Quantization::PerDimension).unwrap();
        add(&mut ix, &["a"], &[1.0, 2.0], "u", "fact");
        assert_eq!(ix.range, vec![1.0, 2.0]);
        add(&mut ix, &["b"], &[4.0, 0.5], "u", "fact");
        assert_eq!(ix.range, vec![4.0, 2.0]);
        add(&mut ix, &["c"], &[8.0, 0.5], "u", "fact");
        assert_eq!(ix.range, vec![4.0, 2.0]); // 3 < 2 * 2: clamped until the next fit
        assert_eq!(ix.codes.as_i8()[2 * ix.stride_q], 127);
        ix.compact();
        assert_eq!(ix.range, vec![8.0, 2.0]);
    }
}
