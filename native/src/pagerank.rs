//! Personalized PageRank over a hypergraph, defined exactly as `networkx.pagerank` on the
//! undirected bipartite graph whose nodes are the vertices and the hyperedges, with one link
//! between a vertex and each hyperedge containing it, weighted by the hyperedge's weight.
//!
//! Node order is vertices `0..V` then hyperedges. Each step:
//! `x' = alpha * x W + alpha * (sum of x over dangling nodes) * p + (1 - alpha) * p`, where `W`
//! divides each link weight by the weighted degree of its source, a dangling node has weighted
//! degree 0, and `p` is the normalised personalization (uniform when no seed is given). The start
//! is uniform; the walk stops when the L1 change is below `N * tol`. Unlike networkx, a walk that
//! has not converged after `max_iter` steps returns its last iterate instead of raising.

use rayon::prelude::*;

use crate::error::{Error, Result};

/// Above this many nodes the steps run on rayon threads.
const PARALLEL_MIN_NODES: usize = 1 << 16;

/// A hypergraph as a CSR incidence: hyperedge `e` holds `vertices[ptr[e]..ptr[e + 1]]`.
#[derive(Clone, Debug)]
pub struct Incidence {
    n_vertices: usize,
    edge_ptr: Vec<usize>,
    edge_vertices: Vec<u32>,
    weights: Vec<f64>,
    vertex_ptr: Vec<usize>,
    vertex_edges: Vec<u32>,
    /// Share of a hyperedge's rank sent to each of its vertices: weight / weighted degree.
    edge_share: Vec<f64>,
    /// 1 / weighted degree of each vertex (0 for a vertex with no weighted link).
    vertex_inv: Vec<f64>,
    /// Nodes with no weighted link (vertices first, hyperedges as `n_vertices + e`).
    dangling: Vec<usize>,
}

impl Incidence {
    /// Checks and indexes a CSR incidence. Vertices must be in range and distinct within an
    /// edge; weights finite and non-negative.
    pub fn new(
        edge_ptr: &[i64],
        edge_vertices: &[i32],
        n_vertices: usize,
        weights: &[f64],
    ) -> Result<Self> {
        if edge_ptr.is_empty() {
            return Err(Error::invalid("edge_ptr must hold E + 1 offsets (at least one)"));
        }
        let n_edges = edge_ptr.len() - 1;
        if weights.len() != n_edges {
            return Err(Error::invalid(format!(
                "edge_weights has {} values for {n_edges} hyperedges",
                weights.len()
            )));
        }
        if edge_ptr[0] != 0 || edge_ptr[n_edges] != edge_vertices.len() as i64 {
            return Err(Error::invalid(format!(
                "edge_ptr must start at 0 and end at len(edge_vertices) = {}",
                edge_vertices.len()
            )));
        }
        if let Some(e) = edge_ptr.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::invalid(format!("edge_ptr decreases at hyperedge {e}")));
        }
        if n_vertices > u32::MAX as usize || n_edges > u32::MAX as usize {
            return Err(Error::invalid("too many vertices or hyperedges (limit 2^32 - 1)"));
        }
        if let Some(e) = weights.iter().position(|w| !w.is_finite() || *w < 0.0) {
            return Err(Error::invalid(format!(
                "weight of hyperedge {e} is {}: weights must be finite and >= 0",
                weights[e]
            )));
        }
        let edge_ptr: Vec<usize> = edge_ptr.iter().map(|&p| p as usize).collect();
        let mut last_seen = vec![u32::MAX; n_vertices];
        let mut degree = vec![0usize; n_vertices];
        for e in 0..n_edges {
            for &v in &edge_vertices[edge_ptr[e]..edge_ptr[e + 1]] {
                if v < 0 || v as usize >= n_vertices {
                    return Err(Error::invalid(format!(
                        "hyperedge {e} lists vertex {v}, outside 0..{n_vertices}"
                    )));
                }
                let v = v as usize;
                if last_seen[v] == e as u32 {
                    return Err(Error::invalid(format!("hyperedge {e} lists vertex {v} twice")));
                }
                last_seen[v] = e as u32;
                degree[v] += 1;
            }
        }
        let mut vertex_ptr = Vec::with_capacity(n_vertices + 1);
        vertex_ptr.push(0);
        for d in &degree {
            vertex_ptr.push(vertex_ptr.last().copied().unwrap_or(0) + d);
        }
        let mut fill = vertex_ptr[..n_vertices].to_vec();
        let mut vertex_edges = vec![0u32; edge_vertices.len()];
        for e in 0..n_edges {
            for &v in &edge_vertices[edge_ptr[e]..edge_ptr[e + 1]] {
                vertex_edges[fill[v as usize]] = e as u32;
                fill[v as usize] += 1;
            }
        }
        let mut g = Incidence {
            n_vertices,
            edge_ptr,
            edge_vertices: edge_vertices.iter().map(|&v| v as u32).collect(),
            weights: weights.to_vec(),
            vertex_ptr,
            vertex_edges,
            edge_share: Vec::new(),
            vertex_inv: Vec::new(),
            dangling: Vec::new(),
        };
        g.index_degrees();
        Ok(g)
    }

    /// The walk's constants, computed once here instead of on every walk: a hyperedge links to
    /// each of its vertices with its weight, so its weighted degree is weight × size and a
    /// vertex's is the sum of its hyperedges' weights.
    fn index_degrees(&mut self) {
        let (nv, ne) = (self.n_vertices, self.n_edges());
        let edge_out: Vec<f64> = (0..ne)
            .map(|e| self.weights[e] * (self.edge_ptr[e + 1] - self.edge_ptr[e]) as f64)
            .collect();
        let vertex_out: Vec<f64> = (0..nv)
            .map(|v| {
                self.vertex_edges[self.vertex_ptr[v]..self.vertex_ptr[v + 1]]
                    .iter()
                    .map(|&e| self.weights[e as usize])
                    .sum()
            })
            .collect();
        self.edge_share = (0..ne)
            .map(|e| if edge_out[e] > 0.0 { self.weights[e] / edge_out[e] } else { 0.0 })
            .collect();
        self.vertex_inv = vertex_out.iter().map(|&d| if d > 0.0 { 1.0 / d } else { 0.0 }).collect();
        self.dangling = (0..nv)
            .filter(|&v| vertex_out[v] == 0.0)
            .chain((0..ne).filter(|&e| edge_out[e] == 0.0).map(|e| nv + e))
            .collect();
    }

    /// Number of hyperedges.
    pub fn n_edges(&self) -> usize {
        self.weights.len()
    }

    /// Number of vertices.
    pub fn n_vertices(&self) -> usize {
        self.n_vertices
    }
}

/// Settings of the walk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PageRankOptions {
    /// Damping factor (probability of following a link).
    pub alpha: f64,
    /// Maximum number of steps.
    pub max_iter: usize,
    /// Convergence tolerance per node.
    pub tol: f64,
}

impl Default for PageRankOptions {
    fn default() -> Self {
        PageRankOptions { alpha: 0.85, max_iter: 100, tol: 1e-6 }
    }
}

fn check_seeds(seeds: &[(usize, f64)], limit: usize, what: &str) -> Result<()> {
    for &(i, w) in seeds {
        if i >= limit {
            return Err(Error::invalid(format!("seed {what} {i} is outside 0..{limit}")));
        }
        if !w.is_finite() || w < 0.0 {
            return Err(Error::invalid(format!("seed weight of {what} {i} is {w}: use >= 0")));
        }
    }
    Ok(())
}

fn par_or_seq<F>(out: &mut [f64], parallel: bool, f: F)
where
    F: Fn(usize) -> f64 + Sync,
{
    if parallel {
        out.par_iter_mut().enumerate().for_each(|(i, o)| *o = f(i));
    } else {
        out.iter_mut().enumerate().for_each(|(i, o)| *o = f(i));
    }
}

/// Personalized PageRank; returns (hyperedge scores, vertex scores), summing to 1 together.
pub fn personalized_pagerank(
    g: &Incidence,
    seed_edges: &[(usize, f64)],
    seed_vertices: &[(usize, f64)],
    opts: PageRankOptions,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (nv, ne) = (g.n_vertices, g.n_edges());
    let n = nv + ne;
    if !(0.0..=1.0).contains(&opts.alpha) {
        return Err(Error::invalid(format!("alpha must be in [0, 1], got {}", opts.alpha)));
    }
    if opts.max_iter == 0 || !(opts.tol > 0.0 && opts.tol.is_finite()) {
        return Err(Error::invalid("max_iter must be >= 1 and tol a positive number"));
    }
    check_seeds(seed_edges, ne, "hyperedge")?;
    check_seeds(seed_vertices, nv, "vertex")?;
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    // Personalization over nodes (vertices first); repeated seeds add up.
    let mut p = vec![0.0f64; n];
    if seed_edges.is_empty() && seed_vertices.is_empty() {
        p.fill(1.0 / n as f64);
    } else {
        for &(v, w) in seed_vertices {
            p[v] += w;
        }
        for &(e, w) in seed_edges {
            p[nv + e] += w;
        }
        let total: f64 = p.iter().sum();
        if total <= 0.0 {
            return Err(Error::invalid("seed weights sum to zero"));
        }
        p.iter_mut().for_each(|x| *x /= total);
    }
    let parallel = n >= PARALLEL_MIN_NODES;
    let alpha = opts.alpha;
    let mut x = vec![1.0 / n as f64; n];
    let mut next = vec![0.0f64; n];
    // What each node sends along each of its links this step (rank × share), gathered below.
    let mut sent = vec![0.0f64; n];
    for _ in 0..opts.max_iter {
        let dangle = alpha * g.dangling.iter().map(|&i| x[i]).sum::<f64>();
        let (sent_v, sent_e) = sent.split_at_mut(nv);
        sent_v.iter_mut().zip(&x[..nv]).zip(&g.vertex_inv).for_each(|((s, r), d)| *s = r * d);
        sent_e.iter_mut().zip(&x[nv..]).zip(&g.edge_share).for_each(|((s, r), d)| *s = r * d);
        let (sent_v, sent_e) = sent.split_at(nv);
        let (nextv, nexte) = next.split_at_mut(nv);
        par_or_seq(nextv, parallel, |v| {
            let inflow: f64 = g.vertex_edges[g.vertex_ptr[v]..g.vertex_ptr[v + 1]]
                .iter()
                // SAFETY: `Incidence::new` checked every hyperedge id is below `n_edges`.
                .map(|&e| unsafe { *sent_e.get_unchecked(e as usize) })
                .sum();
            alpha * inflow + (dangle + 1.0 - alpha) * p[v]
        });
        par_or_seq(nexte, parallel, |e| {
            let inflow: f64 = g.edge_vertices[g.edge_ptr[e]..g.edge_ptr[e + 1]]
                .iter()
                // SAFETY: `Incidence::new` checked every vertex id is below `n_vertices`.
                .map(|&v| unsafe { *sent_v.get_unchecked(v as usize) })
                .sum();
            alpha * g.weights[e] * inflow + (dangle + 1.0 - alpha) * p[nv + e]
        });
        let err: f64 = x.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut x, &mut next);
        if err < n as f64 * opts.tol {
            break;
        }
    }
    let edges = x.split_off(nv);
    Ok((edges, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn symmetric_star_splits_rank_evenly() {
        // One hyperedge over three vertices: by symmetry each vertex gets the same rank.
        let g = Incidence::new(&[0, 3], &[0, 1, 2], 3, &[1.0]).unwrap();
        let (e, v) = personalized_pagerank(&g, &[], &[], PageRankOptions::default()).unwrap();
        close(&v, &[v[0]; 3]);
        assert!((e[0] + v.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // Undirected star: the centre gets 0.479730574 from networkx.pagerank
        assert!((e[0] - 0.479_730_574).abs() < 1e-6, "{e:?}");
    }

    #[test]
    fn seeds_dangling_nodes_and_zero_weights() {
        // Vertex 3 is isolated (dangling); hyperedge 1 has weight 0 (its links carry nothing).
        let g = Incidence::new(&[0, 2, 4], &[0, 1, 1, 2], 4, &[2.0, 0.0]).unwrap();
        let (e, v) =
            personalized_pagerank(&g, &[(0, 1.0)], &[(3, 1.0)], PageRankOptions::default())
                .unwrap();
        // networkx.pagerank on the same bipartite graph.
        close(&v, &[0.199764348, 0.199764348, 0.0, 0.130434783]);
        close(&e, &[0.470036521, 0.0]);
    }

    #[test]
    fn bad_inputs_are_rejected() {
        assert!(Incidence::new(&[], &[], 1, &[]).is_err());
        assert!(Incidence::new(&[0, 2], &[0, 0], 1, &[1.0]).is_err());
        assert!(Incidence::new(&[0, 1], &[5], 2, &[1.0]).is_err());
        assert!(Incidence::new(&[0, 1], &[0], 2, &[-1.0]).is_err());
        assert!(Incidence::new(&[0, 2, 1], &[0, 1], 2, &[1.0, 1.0]).is_err());
        let g = Incidence::new(&[0, 1], &[0], 1, &[1.0]).unwrap();
        let o = PageRankOptions::default();
        assert!(personalized_pagerank(&g, &[(3, 1.0)], &[], o).is_err());
        assert!(personalized_pagerank(&g, &[(0, 0.0)], &[], o).is_err());
        assert!(personalized_pagerank(&g, &[], &[], PageRankOptions { alpha: 2.0, ..o }).is_err());
        let empty = Incidence::new(&[0], &[], 0, &[]).unwrap();
        assert_eq!(personalized_pagerank(&empty, &[], &[], o).unwrap(), (vec![], vec![]));
    }
}
