//! Times the native scans without Python: `cargo run --release --example scan_bench -- [n] [dim]`.
//!
//! Prints the median milliseconds per query of the exact f32 scan, the int8 scan with its f32
//! rerank, and a 10% namespace filter, beside the time to read the row bytes once (a parallel
//! sum over the same buffers: the memory bandwidth bound of each scan).

use std::time::Instant;

use hypermnesia_native::{Filter, Index, Metric, Quantization, Rows, SearchOptions, WriteMode};
use rayon::prelude::*;

fn unit_rows(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut v: Vec<f32> = (0..n * dim)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    for row in v.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn median_ms(mut f: impl FnMut(usize), queries: usize) -> f64 {
    (0..3).for_each(&mut f);
    let mut times: Vec<f64> = (0..queries)
        .map(|i| {
            let t = Instant::now();
            f(i);
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn read_ms(bytes: &[u8], queries: usize) -> f64 {
    let words: &[u64] = bytemuck_words(bytes);
    median_ms(
        |_| {
            let s: u64 =
                words.par_chunks(1 << 16).map(|c| c.iter().fold(0u64, |a, &w| a ^ w)).sum();
            std::hint::black_box(s);
        },
        queries,
    )
}

fn bytemuck_words(bytes: &[u8]) -> &[u64] {
    // SAFETY: any bit pattern is a valid u64; `align_to` yields only aligned words.
    let (_, mid, _) = unsafe { bytes.align_to::<u64>() };
    mid
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let n = args.first().copied().unwrap_or(100_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let queries = 50;
    let data = unit_rows(n, dim, 7);
    let qs = unit_rows(queries + 3, dim, 11);
    let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let ns: Vec<String> = (0..n).map(|i| format!("ns{}", i % 10)).collect();
    let mut ix = Index::new(dim, Metric::Cosine, Quantization::PerVector).unwrap();
    let rows = Rows {
        ids: &ids,
        vectors: &data,
        namespaces: &ns,
        granularities: &["fact".to_string()],
        current: &[true],
    };
    ix.write(rows, WriteMode::Insert).unwrap();
    let q = |i: usize| &qs[i * dim..(i + 1) * dim];
    let exact = SearchOptions { exact: true, ..SearchOptions::top(10) };
    let filter = Filter { namespace: Some("ns0".into()), ..Filter::default() };
    let f32_ms = median_ms(|i| drop(ix.search(q(i), &exact, None).unwrap()), queries);
    let i8_ms =
        median_ms(|i| drop(ix.search(q(i), &SearchOptions::top(10), None).unwrap()), queries);
    let filt_ms = median_ms(
        |i| drop(ix.search(q(i), &SearchOptions::top(10), Some(&filter)).unwrap()),
        queries,
    );
    let sel_ms = median_ms(|_| drop(ix.selection(Some(&filter))), queries);
    let f32_bytes = vec![1u8; n * dim.next_multiple_of(16) * 4];
    let i8_bytes = vec![1u8; n * dim.next_multiple_of(64)];
    println!(
        "n={n} dim={dim} threads={} f32 {f32_ms:.3} ms (read {:.3}) int8 {i8_ms:.3} ms (read {:.3}) \
         int8 ns 10% {filt_ms:.3} ms (selection {sel_ms:.3})",
        rayon::current_num_threads(),
        read_ms(&f32_bytes, queries),
        read_ms(&i8_bytes, queries),
    );
}
