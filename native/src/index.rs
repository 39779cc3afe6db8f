//! The vector index: rows addressed by string ids, stored as f32 (and int8 codes), with per-row
//! metadata for filters. Rows live in dense slots; a delete leaves a tombstone until compaction.

use std::collections::{HashMap, HashSet};

use crate::bitmap::Bitmap;
use crate::buffer::Buffer;
use crate::error::{Error, Result};
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
    pub(crate) fn check_vector(&self, v: &[f32], what: &str) -> Result<()> {
        if v.len() != self.dim {
            return Err(Error::invalid(format!(
                "{what} has {} values, expected dim {}",
                v.len(),
                self.dim
            )));
        }
        if let Some(pos) = v.iter().position(|x| !x.is_finite()) {
            return Err(Error::invalid(format!("{what} has a non-finite value at position {pos}")));
        }
        if self.metric == Metric::Cosine && v.iter().all(|&x| x == 0.0) {
            return Err(Error::invalid(format!("{what} is all zeros: no cosine is defined")));
        }
        Ok(())
    }

    /// `v` as stored: normalised under cosine, padded with zeros to `stride_f`.
    pub(crate) fn normalized(&self, v: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; self.stride_f];
        match self.metric {
            Metric::Dot => out[..self.dim].copy_from_slice(v),
            Metric::Cosine => {
                let norm = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
                for (o, &x) in out.iter_mut().zip(v) {
                    *o = (f64::from(x) / norm) as f32;
                }
            }
        }
        out
    }

    /// Adds, updates or upserts a batch; nothing changes unless the whole batch is valid.
    pub fn write(&mut self, rows: Rows<'_>, mode: WriteMode) -> Result<()> {
        let n = rows.ids.len();
        self.check_batch(&rows, mode)?;
        let mut fresh = 0usize;
        for i in 0..n {
            let id = &rows.ids[i];
            let slot = match self.slots.get(id.as_str()) {
                Some(&s) => s,
                None => {
                    fresh += 1;
                    self.push_slot(id)
                }
            };
            let v = &rows.vectors[i * self.dim..(i + 1) * self.dim];
            let stored = self.normalized(v);
            let start = slot as usize * self.stride_f;
            self.vectors.as_f32_mut()[start..start + self.stride_f].copy_from_slice(&stored);
            let ns = self.namespaces.intern(meta_at(rows.namespaces, i).as_str());
            let gran = self.granularities.intern(meta_at(rows.granularities, i).as_str());
            self.namespace[slot as usize] = ns;
            self.granularity[slot as usize] = gran;
            self.current.set(slot as usize, *meta_at(rows.current, i));
            self.quantize_slot(slot);
        }
        if fresh > 0 && self.quant == Quantization::PerDimension {
            let live = self.len();
            if self.fitted_rows == 0 || live >= 2 * self.fitted_rows {
                self.refit();
            }
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
            self.check_vector(
                &rows.vectors[i * self.dim..(i + 1) * self.dim],
                &format!("row {id:?}"),
            )?;
        }
        if self.slot_count() + fresh > u32::MAX as usize {
            return Err(Error::invalid("the index cannot hold more than 2^32 - 1 slots"));
        }
        Ok(())
    }

    fn push_slot(&mut self, id: &str) -> u32 {
        let slot = self.ids.len() as u32;
        self.ids.push(id.to_owned());
        self.slots.insert(id.to_owned(), slot);
        self.alive.push(true);
        self.current.push(true);
        self.namespace.push(0);
        self.granularity.push(0);
        self.row_step.push(1.0);
        let slots = self.ids.len();
        if self.vectors.len() < slots * self.stride_f * 4 {
            self.vectors.resize(slots * self.stride_f * 4);
        }
        if self.codes.len() < slots * self.stride_q {
            self.codes.resize(slots * self.stride_q);
        }
        slot
    }

    fn quantize_slot(&mut self, slot: u32) {
        let (s, sf, sq, dim) = (slot as usize, self.stride_f, self.stride_q, self.dim);
        let row: Vec<f32> = self.vectors.as_f32()[s * sf..s * sf + dim].to_vec();
        match self.quant {
            Quantization::None => {}
            Quantization::PerVector => {
                let codes = &mut self.codes.as_i8_mut()[s * sq..s * sq + dim];
                self.row_step[s] = quant::quantize_per_vector(&row, codes);
            }
            Quantization::PerDimension => {
                let inv = quant::inverse_steps(&self.range);
                let codes = &mut self.codes.as_i8_mut()[s * sq..s * sq + dim];
                quant::quantize_per_dimension(&row, &inv, codes);
                self.row_step[s] = 1.0;
            }
        }
    }

    /// Refits the per-dimension ranges to the live rows and requantizes them.
    fn refit(&mut self) {
        let (sf, dim) = (self.stride_f, self.dim);
        let data = self.vectors.as_f32();
        self.range =
            quant::fit_range(dim, self.alive.iter_ones().map(|s| &data[s * sf..s * sf + dim]));
        self.fitted_rows = self.len();
        let inv = quant::inverse_steps(&self.range);
        let sq = self.stride_q;
        let slots: Vec<usize> = self.alive.iter_ones().collect();
        let vectors = &self.vectors;
        let codes = self.codes.as_i8_mut();
        for s in slots {
            let row = &vectors.as_f32()[s * sf..s * sf + dim];
            quant::quantize_per_dimension(row, &inv, &mut codes[s * sq..s * sq + dim]);
        }
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

    /// Drops tombstones: live rows move to dense slots in their order; per-dimension ranges are
    /// refitted.
    pub fn compact(&mut self) {
        let live: Vec<usize> = self.alive.iter_ones().collect();
        let mut next = Index::new(self.dim, self.metric, self.quant)
            .expect("the dimension of an existing index is valid");
        let n = live.len();
        next.vectors = Buffer::zeroed(n * self.stride_f * 4);
        next.codes = Buffer::zeroed(n * self.stride_q);
        {
            let (src_v, dst_v) = (self.vectors.as_f32(), next.vectors.as_f32_mut());
            let (src_c, dst_c) = (self.codes.as_i8(), next.codes.as_i8_mut());
            let (sf, sq) = (self.stride_f, self.stride_q);
            for (new, &old) in live.iter().enumerate() {
                dst_v[new * sf..(new + 1) * sf].copy_from_slice(&src_v[old * sf..(old + 1) * sf]);
                dst_c[new * sq..(new + 1) * sq].copy_from_slice(&src_c[old * sq..(old + 1) * sq]);
            }
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
        if self.quant == Quantization::PerDimension {
            next.refit();
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
        ix.compact();
        assert_eq!(ix.slot_count(), 2);
        assert_eq!(ix.ids(), vec!["b", "c"]);
        assert_eq!(ix.row(0), &[1.0, 0.0, 0.0]);
        assert_eq!(ix.namespaces.names(), &strings(&["v", "u"])[..]);
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
