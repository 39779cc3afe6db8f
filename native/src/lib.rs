//! Native vector core of Hypermnesia.
//!
//! - [`index::Index`]: rows addressed by string ids, added, updated and deleted without rebuild
//!   (tombstones and compaction), stored as f32 plus an int8 copy (per-vector or per-dimension
//!   scale); cosine or dot.
//! - [`search`]: exact f32 top-k, or an int8 scan whose candidate pool is reranked exactly in f32;
//!   filters (namespace, granularity, validity, id set) applied as a bitmap during the scan;
//!   batch queries; scores of an explicit subset. Scans run on rayon threads with SIMD kernels
//!   chosen at run time ([`simd`]).
//! - [`prune`]: the int8 scan that rules out most rows from half of their codes.
//! - [`persist`]: save to one file, load by copying or by memory-mapping.
//! - [`pagerank`]: personalized PageRank over a vertex–hyperedge incidence (CSR).
//!
//! The `python` feature adds the PyO3 module `hypermnesia_native`.

pub mod bitmap;
pub mod buffer;
pub mod error;
pub mod index;
pub mod pagerank;
pub mod persist;
pub mod prune;
pub mod quant;
pub mod search;
pub mod simd;
pub mod topk;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
pub use index::{Index, Metric, Rows, WriteMode};
pub use quant::Quantization;
pub use search::{Filter, SearchOptions};
pub use topk::Scored;
