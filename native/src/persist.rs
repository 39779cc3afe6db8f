//! Saving an index to one file and loading it back, by copy or by memory map.
//!
//! Layout (little-endian): the magic `HMNVIDX1`, the header length (u64), the offset of the data
//! area (u64), a JSON header (shape, metric, storage, ids, names, section offsets relative to the
//! data area), then the sections, each aligned to 64 bytes: f32 rows, int8 codes, row steps (f32),
//! per-dimension ranges (f32), namespace and granularity numbers (u32), current flags (u8).
//! Only live rows are written. A save goes to a temporary file renamed into place, so a reader
//! never sees half a file and a mapped index keeps its old copy.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use crate::bitmap::Bitmap;
use crate::buffer::{Buffer, ALIGN};
use crate::error::{Error, Result};
use crate::index::{Index, Interner, Metric};
use crate::quant::Quantization;

const MAGIC: &[u8; 8] = b"HMNVIDX1";
const PREFIX: usize = 24;
const FORMAT: u32 = 1;

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
struct Section {
    offset: u64,
    bytes: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Sections {
    vectors: Section,
    codes: Section,
    row_step: Section,
    range: Section,
    namespace: Section,
    granularity: Section,
    current: Section,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    dim: usize,
    metric: String,
    storage: String,
    rows: usize,
    stride_f32: usize,
    stride_i8: usize,
    fitted_rows: usize,
    ids: Vec<String>,
    namespaces: Vec<String>,
    granularities: Vec<String>,
    sections: Sections,
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::Io(format!("{}: {e}", path.display()))
}

impl Index {
    /// Writes the live rows to `path` (atomically, through a temporary file).
    pub fn save(&self, path: &Path) -> Result<()> {
        if cfg!(target_endian = "big") {
            return Err(Error::invalid("index files are little-endian; this machine is not"));
        }
        let live: Vec<usize> = self.alive.iter_ones().collect();
        let n = live.len();
        let dense = n == self.slot_count();
        let mut offset = 0u64;
        let mut section = |bytes: usize| {
            let s = Section { offset, bytes: bytes as u64 };
            offset += (bytes as u64).next_multiple_of(ALIGN as u64);
            s
        };
        let sections = Sections {
            vectors: section(n * self.stride_f * 4),
            codes: section(n * self.stride_q),
            row_step: section(n * 4),
            range: section(self.range.len() * 4),
            namespace: section(n * 4),
            granularity: section(n * 4),
            current: section(n),
        };
        let header = Header {
            format: FORMAT,
            dim: self.dim,
            metric: self.metric.name().to_owned(),
            storage: self.quant.name().to_owned(),
            rows: n,
            stride_f32: self.stride_f,
            stride_i8: self.stride_q,
            fitted_rows: self.fitted_rows,
            ids: live.iter().map(|&s| self.ids[s].clone()).collect(),
            namespaces: self.namespaces.names().to_vec(),
            granularities: self.granularities.names().to_vec(),
            sections,
        };
        let json = serde_json::to_vec(&header).map_err(|e| Error::invalid(e.to_string()))?;
        let data_start = (PREFIX + json.len()).next_multiple_of(ALIGN);

        let tmp = tmp_path(path);
        let result = (|| -> std::io::Result<()> {
            let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            w.write_all(MAGIC)?;
            w.write_all(&(json.len() as u64).to_le_bytes())?;
            w.write_all(&(data_start as u64).to_le_bytes())?;
            w.write_all(&json)?;
            pad(&mut w, data_start - PREFIX - json.len())?;
            let rows_of = |buf: &[u8], stride: usize, w: &mut BufWriter<File>| {
                if dense {
                    w.write_all(&buf[..n * stride])?;
                } else {
                    for &s in &live {
                        w.write_all(&buf[s * stride..(s + 1) * stride])?;
                    }
                }
                pad(w, (n * stride).next_multiple_of(ALIGN) - n * stride)
            };
            rows_of(self.vectors.as_bytes(), self.stride_f * 4, &mut w)?;
            rows_of(self.codes.as_bytes(), self.stride_q, &mut w)?;
            let per_row = |f: &dyn Fn(usize) -> [u8; 4], w: &mut BufWriter<File>| {
                for &s in &live {
                    w.write_all(&f(s))?;
                }
                pad(w, (n * 4).next_multiple_of(ALIGN) - n * 4)
            };
            per_row(&|s| self.row_step[s].to_le_bytes(), &mut w)?;
            for r in &self.range {
                w.write_all(&r.to_le_bytes())?;
            }
            pad(&mut w, (self.range.len() * 4).next_multiple_of(ALIGN) - self.range.len() * 4)?;
            per_row(&|s| self.namespace[s].to_le_bytes(), &mut w)?;
            per_row(&|s| self.granularity[s].to_le_bytes(), &mut w)?;
            for &s in &live {
                w.write_all(&[u8::from(self.current.get(s))])?;
            }
            pad(&mut w, n.next_multiple_of(ALIGN) - n)?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(path, e));
        }
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    }

    /// Reads an index saved by [`Index::save`]. With `mmap`, the rows stay in the mapped file
    /// until first written; otherwise they are copied into memory.
    pub fn load(path: &Path, mmap: bool) -> Result<Index> {
        if cfg!(target_endian = "big") {
            return Err(Error::invalid("index files are little-endian; this machine is not"));
        }
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        // SAFETY: the file is only read; `save` never rewrites a file in place.
        let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(|e| io_err(path, e))?);
        let bad = |what: &str| Error::corrupt(format!("{}: {what}", path.display()));
        if map.len() < PREFIX || &map[..8] != MAGIC {
            return Err(bad("not a hypermnesia index file"));
        }
        let read_u64 = |at: usize| u64::from_le_bytes(map[at..at + 8].try_into().unwrap_or([0; 8]));
        let (json_len, data_start) = (read_u64(8) as usize, read_u64(16) as usize);
        if json_len > map.len() - PREFIX
            || data_start % ALIGN != 0
            || data_start < PREFIX + json_len
        {
            return Err(bad("truncated or malformed header"));
        }
        let h: Header = serde_json::from_slice(&map[PREFIX..PREFIX + json_len])
            .map_err(|e| bad(&format!("header does not parse: {e}")))?;
        if h.format != FORMAT {
            return Err(bad(&format!("format {} is not supported", h.format)));
        }
        let metric = Metric::parse(&h.metric).map_err(|e| bad(&e.to_string()))?;
        let quant = Quantization::parse(&h.storage).map_err(|e| bad(&e.to_string()))?;
        let mut ix = Index::new(h.dim, metric, quant).map_err(|e| bad(&e.to_string()))?;
        let n = h.rows;
        if h.stride_f32 != ix.stride_f || h.stride_i8 != ix.stride_q || h.ids.len() != n {
            return Err(bad("row layout does not match the header"));
        }
        let s = &h.sections;
        let range_len = if quant == Quantization::PerDimension { h.dim } else { 0 };
        let expect = [
            (s.vectors, n * ix.stride_f * 4),
            (s.codes, n * ix.stride_q),
            (s.row_step, n * 4),
            (s.range, range_len * 4),
            (s.namespace, n * 4),
            (s.granularity, n * 4),
            (s.current, n),
        ];
        for (sec, bytes) in expect {
            let end =
                (data_start as u64).checked_add(sec.offset).and_then(|o| o.checked_add(sec.bytes));
            if sec.bytes != bytes as u64
                || sec.offset % ALIGN as u64 != 0
                || end.is_none_or(|e| e > map.len() as u64)
            {
                return Err(bad("a section is truncated or misplaced"));
            }
        }
        let at = |sec: Section| data_start + sec.offset as usize;
        let bytes = |sec: Section| &map[at(sec)..at(sec) + sec.bytes as usize];
        let u32s = |sec: Section| -> Vec<u32> {
            bytes(sec)
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let f32s = |sec: Section| -> Vec<f32> {
            bytes(sec)
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        ix.namespaces = Interner::from_names(h.namespaces).map_err(|e| bad(&e.to_string()))?;
        ix.granularities =
            Interner::from_names(h.granularities).map_err(|e| bad(&e.to_string()))?;
        ix.namespace = u32s(s.namespace);
        ix.granularity = u32s(s.granularity);
        let (n_ns, n_gran) = (ix.namespaces.names().len(), ix.granularities.names().len());
        if ix.namespace.iter().any(|&v| v as usize >= n_ns)
            || ix.granularity.iter().any(|&v| v as usize >= n_gran)
        {
            return Err(bad("a row refers to an unknown namespace or granularity"));
        }
        ix.row_step = f32s(s.row_step);
        if quant == Quantization::PerDimension {
            ix.range = f32s(s.range);
        }
        ix.fitted_rows = h.fitted_rows;
        let mut current = Bitmap::zeros(n);
        for (i, &c) in bytes(s.current).iter().enumerate() {
            current.set(i, c != 0);
        }
        ix.current = current;
        ix.alive = Bitmap::ones(n);
        ix.slots.reserve(n);
        for (i, id) in h.ids.iter().enumerate() {
            if id.is_empty() || ix.slots.insert(id.clone(), i as u32).is_some() {
                return Err(bad(&format!("id {id:?} is empty or listed twice")));
            }
        }
        ix.ids = h.ids;
        ix.vectors = Buffer::mapped(Arc::clone(&map), at(s.vectors), s.vectors.bytes as usize);
        ix.codes = Buffer::mapped(Arc::clone(&map), at(s.codes), s.codes.bytes as usize);
        if !mmap {
            ix.vectors.as_bytes_mut();
            ix.codes.as_bytes_mut();
        }
        ix.sync_heads();
        Ok(ix)
    }
}

fn pad(w: &mut impl Write, n: usize) -> std::io::Result<()> {
    w.write_all(&[0u8; ALIGN][..n])
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::{add, strings};
    use crate::search::SearchOptions;

    #[test]
    fn round_trip_by_copy_and_by_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ix.hmn");
        for quant in [Quantization::None, Quantization::PerVector, Quantization::PerDimension] {
            let mut ix = Index::new(5, Metric::Cosine, quant).unwrap();
            let v: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32 - 5.0).collect();
            add(&mut ix, &["a", "b", "c", "d"], &v[..20], "u1", "fact");
            add(&mut ix, &["e", "f", "g", "h"], &v[20..], "u2", "turn");
            ix.set_current(&strings(&["b"]), false).unwrap();
            ix.remove(&strings(&["c"])).unwrap();
            ix.save(&path).unwrap();
            for mmap in [false, true] {
                let back = Index::load(&path, mmap).unwrap();
                assert_eq!(back.is_mapped(), mmap);
                assert_eq!(back.ids(), ix.ids());
                assert_eq!(back.range, ix.range);
                for id in ix.ids() {
                    let (a, b) = (ix.slot(id).unwrap(), back.slot(id).unwrap());
                    assert_eq!(ix.row(a), back.row(b));
                    assert_eq!(ix.current.get(a as usize), back.current.get(b as usize));
                }
                let q = &v[..5];
                let want: Vec<(String, f32)> = ix
                    .search(q, &SearchOptions::top(3), None)
                    .unwrap()
                    .iter()
                    .map(|s| (ix.id_of(s.slot).to_owned(), s.score))
                    .collect();
                let got: Vec<(String, f32)> = back
                    .search(q, &SearchOptions::top(3), None)
                    .unwrap()
                    .iter()
                    .map(|s| (back.id_of(s.slot).to_owned(), s.score))
                    .collect();
                assert_eq!(got, want);
                let mut back = back;
                add(&mut back, &["z"], &v[..5], "u1", "fact");
                assert!(!back.vectors.is_mapped());
                assert_eq!(back.len(), 8);
            }
        }
    }

    #[test]
    fn damaged_files_are_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ix.hmn");
        let mut ix = Index::new(4, Metric::Dot, Quantization::PerVector).unwrap();
        add(&mut ix, &["a", "b"], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], "u", "fact");
        ix.save(&path).unwrap();
        let good = std::fs::read(&path).unwrap();
        let mut cases = vec![good[..good.len() - 70].to_vec(), b"garbage".to_vec()];
        let mut bad_json = good.clone();
        bad_json[PREFIX] = b'!';
        cases.push(bad_json);
        for bytes in cases {
            std::fs::write(&path, &bytes).unwrap();
            assert!(matches!(Index::load(&path, true), Err(Error::Corrupt(_))));
        }
        assert!(matches!(Index::load(&dir.path().join("missing"), true), Err(Error::Io(_))));
    }
}
