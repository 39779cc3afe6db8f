//! The PyO3 module `hypermnesia_native`: a thin layer over the core. NumPy arrays are borrowed
//! without copying when C-contiguous, the GIL is released for every computation, and no panic
//! crosses into Python (it becomes a `RuntimeError`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::error::Error;
use crate::index::{Index, Metric, Rows, WriteMode};
use crate::pagerank::{self, Incidence, PageRankOptions};
use crate::quant::Quantization;
use crate::search::{default_candidates, Filter, SearchOptions};
use crate::simd;
use crate::topk::Scored;

create_exception!(hypermnesia_native, NativeInputError, PyValueError, "Rejected input.");
create_exception!(hypermnesia_native, NativeNotFoundError, PyKeyError, "Unknown id.");
create_exception!(hypermnesia_native, NativeCorruptError, PyRuntimeError, "Unreadable file.");

fn to_py(e: Error) -> PyErr {
    match e {
        Error::InvalidInput(m) => NativeInputError::new_err(m),
        Error::NotFound(m) => NativeNotFoundError::new_err(m),
        Error::Corrupt(m) => NativeCorruptError::new_err(m),
        Error::Io(m) => PyOSError::new_err(m),
    }
}

/// Runs `f` without the GIL, turning core errors and panics into Python exceptions.
fn detached<T: Send>(py: Python<'_>, f: impl FnOnce() -> Result<T, Error> + Send) -> PyResult<T> {
    py.detach(|| catch_unwind(AssertUnwindSafe(f)))
        .map_err(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            PyRuntimeError::new_err(format!("internal error in hypermnesia_native: {msg}"))
        })?
        .map_err(to_py)
}

fn matrix<'a>(arr: &'a PyReadonlyArray2<'_, f32>) -> (Cow<'a, [f32]>, usize, usize) {
    let shape = arr.shape();
    let data = match arr.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(arr.as_array().iter().copied().collect()),
    };
    (data, shape[0], shape[1])
}

fn vector<'a>(arr: &'a PyReadonlyArray1<'_, f32>) -> Cow<'a, [f32]> {
    match arr.as_slice() {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(arr.as_array().iter().copied().collect()),
    }
}

fn f32_matrix<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, f32>> {
    obj.extract::<PyReadonlyArray2<'py, f32>>().map_err(|_| {
        NativeInputError::new_err(format!("{what} must be a 2-d numpy array of float32"))
    })
}

fn f32_vector<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray1<'py, f32>> {
    obj.extract::<PyReadonlyArray1<'py, f32>>().map_err(|_| {
        NativeInputError::new_err(format!("{what} must be a 1-d numpy array of float32"))
    })
}

/// A vector index with string ids (see the crate documentation).
#[pyclass(frozen, module = "hypermnesia_native", name = "VectorIndex")]
struct PyVectorIndex {
    inner: RwLock<Index>,
}

impl PyVectorIndex {
    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }
}

fn named(ix: &Index, hits: Vec<Scored>) -> Vec<(String, f32)> {
    hits.into_iter().map(|h| (ix.id_of(h.slot).to_owned(), h.score)).collect()
}

fn make_filter(
    namespace: Option<String>,
    granularities: Option<Vec<String>>,
    current_only: bool,
    ids: Option<Vec<String>>,
) -> Filter {
    Filter { namespace, granularities, current_only, ids }
}

#[pymethods]
impl PyVectorIndex {
    #[new]
    #[pyo3(signature = (dim, metric = "cosine", storage = "int8"))]
    fn new(dim: usize, metric: &str, storage: &str) -> PyResult<Self> {
        let metric = Metric::parse(metric).map_err(to_py)?;
        let quant = Quantization::parse(storage).map_err(to_py)?;
        let index = Index::new(dim, metric, quant).map_err(to_py)?;
        Ok(PyVectorIndex { inner: RwLock::new(index) })
    }

    #[getter]
    fn dim(&self) -> usize {
        self.read().dim()
    }

    #[getter]
    fn metric(&self) -> &'static str {
        self.read().metric().name()
    }

    #[getter]
    fn storage(&self) -> &'static str {
        self.read().quantization().name()
    }

    #[getter]
    fn slot_count(&self) -> usize {
        self.read().slot_count()
    }

    #[getter]
    fn is_mapped(&self) -> bool {
        self.read().is_mapped()
    }

    fn __len__(&self) -> usize {
        self.read().len()
    }

    fn __contains__(&self, id: &str) -> bool {
        self.read().contains(id)
    }

    fn ids(&self) -> Vec<String> {
        self.read().ids().into_iter().map(str::to_owned).collect()
    }

    /// Writes rows; `mode` is "insert", "update" or "upsert".
    #[allow(clippy::too_many_arguments)]
    fn write_rows(
        &self,
        py: Python<'_>,
        ids: Vec<String>,
        vectors: &Bound<'_, PyAny>,
        namespaces: Vec<String>,
        granularities: Vec<String>,
        current: Vec<bool>,
        mode: &str,
    ) -> PyResult<()> {
        let mode = match mode {
            "insert" => WriteMode::Insert,
            "update" => WriteMode::Update,
            "upsert" => WriteMode::Upsert,
            _ => return Err(NativeInputError::new_err(format!("unknown write mode {mode:?}"))),
        };
        let arr = f32_matrix(vectors, "vectors")?;
        let (data, rows, cols) = matrix(&arr);
        let dim = self.read().dim();
        if rows != ids.len() || cols != dim {
            return Err(NativeInputError::new_err(format!(
                "vectors has shape ({rows}, {cols}); expected ({}, {dim})",
                ids.len()
            )));
        }
        detached(py, || {
            let batch = Rows {
                ids: &ids,
                vectors: &data,
                namespaces: &namespaces,
                granularities: &granularities,
                current: &current,
            };
            self.write().write(batch, mode)
        })
    }

    fn remove(&self, py: Python<'_>, ids: Vec<String>) -> PyResult<()> {
        detached(py, || self.write().remove(&ids))
    }

    fn set_current(&self, py: Python<'_>, ids: Vec<String>, current: bool) -> PyResult<()> {
        detached(py, || self.write().set_current(&ids, current))
    }

    fn compact(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, || {
            self.write().compact();
            Ok(())
        })
    }

    #[pyo3(signature = (query, k, namespace=None, granularities=None, current_only=false, ids=None, exact=false, candidates=None))]
    #[allow(clippy::too_many_arguments)]
    fn search(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        k: usize,
        namespace: Option<String>,
        granularities: Option<Vec<String>>,
        current_only: bool,
        ids: Option<Vec<String>>,
        exact: bool,
        candidates: Option<usize>,
    ) -> PyResult<Vec<(String, f32)>> {
        let arr = f32_vector(query, "query")?;
        let q = vector(&arr);
        let filter = make_filter(namespace, granularities, current_only, ids);
        let opts = SearchOptions { k, exact, candidates };
        detached(py, || {
            let ix = self.read();
            ix.search(&q, &opts, Some(&filter)).map(|hits| named(&ix, hits))
        })
    }

    #[pyo3(signature = (queries, k, namespace=None, granularities=None, current_only=false, ids=None, exact=false, candidates=None))]
    #[allow(clippy::too_many_arguments)]
    fn search_batch(
        &self,
        py: Python<'_>,
        queries: &Bound<'_, PyAny>,
        k: usize,
        namespace: Option<String>,
        granularities: Option<Vec<String>>,
        current_only: bool,
        ids: Option<Vec<String>>,
        exact: bool,
        candidates: Option<usize>,
    ) -> PyResult<Vec<Vec<(String, f32)>>> {
        let arr = f32_matrix(queries, "queries")?;
        let (data, _, cols) = matrix(&arr);
        let dim = self.read().dim();
        if cols != dim {
            return Err(NativeInputError::new_err(format!(
                "queries have {cols} columns; expected dim {dim}"
            )));
        }
        let filter = make_filter(namespace, granularities, current_only, ids);
        let opts = SearchOptions { k, exact, candidates };
        detached(py, || {
            let ix = self.read();
            let all = ix.search_batch(&data, &opts, Some(&filter))?;
            Ok(all.into_iter().map(|hits| named(&ix, hits)).collect())
        })
    }

    fn score(
        &self,
        py: Python<'_>,
        query: &Bound<'_, PyAny>,
        ids: Vec<String>,
    ) -> PyResult<Vec<(String, f32)>> {
        let arr = f32_vector(query, "query")?;
        let q = vector(&arr);
        detached(py, || {
            let ix = self.read();
            ix.score(&q, &ids).map(|hits| named(&ix, hits))
        })
    }

    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        detached(py, || self.read().save(&path))
    }

    #[staticmethod]
    #[pyo3(signature = (path, mmap = true))]
    fn load(py: Python<'_>, path: PathBuf, mmap: bool) -> PyResult<Self> {
        let index = detached(py, || Index::load(&path, mmap))?;
        Ok(PyVectorIndex { inner: RwLock::new(index) })
    }

    fn __repr__(&self) -> String {
        let ix = self.read();
        format!(
            "VectorIndex(dim={}, metric={:?}, storage={:?}, len={})",
            ix.dim(),
            ix.metric().name(),
            ix.quantization().name(),
            ix.len()
        )
    }
}

fn seeds(map: HashMap<i64, f64>, what: &str) -> PyResult<Vec<(usize, f64)>> {
    let mut out: Vec<(usize, f64)> = map
        .into_iter()
        .map(|(i, w)| {
            usize::try_from(i)
                .map(|i| (i, w))
                .map_err(|_| NativeInputError::new_err(format!("seed {what} {i} is negative")))
        })
        .collect::<PyResult<_>>()?;
    out.sort_by_key(|s| s.0);
    Ok(out)
}

type Scores<'py> = Bound<'py, PyArray1<f64>>;

/// A hypergraph incidence checked and indexed once, for many walks from different seeds.
#[pyclass(name = "Incidence", module = "hypermnesia_native", frozen)]
struct PyIncidence {
    g: Incidence,
}

#[pymethods]
impl PyIncidence {
    /// Checks and indexes a CSR incidence given as NumPy arrays (without the GIL).
    #[new]
    fn new<'py>(
        py: Python<'py>,
        edge_ptr: &Bound<'py, PyAny>,
        edge_vertices: &Bound<'py, PyAny>,
        n_vertices: usize,
        edge_weights: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        let bad = |what: &str, dtype: &str| {
            NativeInputError::new_err(format!("{what} must be a 1-d numpy array of {dtype}"))
        };
        let ptr = edge_ptr
            .extract::<PyReadonlyArray1<'py, i64>>()
            .map_err(|_| bad("edge_ptr", "int64"))?;
        let verts = edge_vertices
            .extract::<PyReadonlyArray1<'py, i32>>()
            .map_err(|_| bad("edge_vertices", "int32"))?;
        let weights = edge_weights
            .extract::<PyReadonlyArray1<'py, f64>>()
            .map_err(|_| bad("edge_weights", "float64"))?;
        let (ptr, verts, weights) = (
            ptr.to_vec().unwrap_or_default(),
            verts.to_vec().unwrap_or_default(),
            weights.to_vec().unwrap_or_default(),
        );
        let g = detached(py, || Incidence::new(&ptr, &verts, n_vertices, &weights))?;
        Ok(PyIncidence { g })
    }

    /// Personalized PageRank from these seeds; returns (edge, vertex) scores.
    #[pyo3(signature = (seed_edges, seed_vertices, alpha=0.85, max_iter=100, tol=1e-6))]
    fn pagerank<'py>(
        &self,
        py: Python<'py>,
        seed_edges: HashMap<i64, f64>,
        seed_vertices: HashMap<i64, f64>,
        alpha: f64,
        max_iter: usize,
        tol: f64,
    ) -> PyResult<(Scores<'py>, Scores<'py>)> {
        let (se, sv) = (seeds(seed_edges, "hyperedge")?, seeds(seed_vertices, "vertex")?);
        let opts = PageRankOptions { alpha, max_iter, tol };
        let (edges, vertices) =
            detached(py, || pagerank::personalized_pagerank(&self.g, &se, &sv, opts))?;
        Ok((PyArray1::from_vec(py, edges), PyArray1::from_vec(py, vertices)))
    }
}

/// The instruction set the kernels use on this CPU.
#[pyfunction]
fn isa() -> &'static str {
    simd::detected().name()
}

/// Every instruction set this CPU can run.
#[pyfunction]
fn available_isas() -> Vec<&'static str> {
    simd::available().into_iter().map(|i| i.name()).collect()
}

/// Default int8 candidate pool for `k` results.
#[pyfunction(name = "default_candidates")]
fn py_default_candidates(k: usize) -> usize {
    default_candidates(k)
}

#[pymodule]
fn hypermnesia_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyVectorIndex>()?;
    m.add_class::<PyIncidence>()?;
    m.add_function(wrap_pyfunction!(isa, m)?)?;
    m.add_function(wrap_pyfunction!(available_isas, m)?)?;
    m.add_function(wrap_pyfunction!(py_default_candidates, m)?)?;
    m.add("NativeInputError", m.py().get_type::<NativeInputError>())?;
    m.add("NativeNotFoundError", m.py().get_type::<NativeNotFoundError>())?;
    m.add("NativeCorruptError", m.py().get_type::<NativeCorruptError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
