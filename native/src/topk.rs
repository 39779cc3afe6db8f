//! Bounded top-k selection with a deterministic order: higher score first, then lower slot.

use std::cmp::Ordering;

/// A slot and its score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Score (higher is better).
    pub score: f32,
    /// Slot of the row in the index.
    pub slot: u32,
}

impl Scored {
    /// Total order: `Greater` means `self` ranks before `other`.
    #[inline]
    pub fn rank_cmp(&self, other: &Scored) -> Ordering {
        self.score.total_cmp(&other.score).then_with(|| other.slot.cmp(&self.slot))
    }
}

/// Keeps the `k` best of everything pushed; a min-heap whose root is the worst kept entry.
#[derive(Clone, Debug)]
pub struct TopK {
    k: usize,
    heap: Vec<Scored>,
}

impl TopK {
    /// An empty selection of at most `k` entries.
    pub fn new(k: usize) -> Self {
        TopK { k, heap: Vec::with_capacity(k.min(4096)) }
    }

    /// Offers one entry. A NaN score ranks below every number.
    #[inline]
    pub fn push(&mut self, score: f32, slot: u32) {
        let score = if score.is_nan() { f32::NEG_INFINITY } else { score };
        if self.heap.len() < self.k {
            self.heap.push(Scored { score, slot });
            self.sift_up(self.heap.len() - 1);
        } else if self.k > 0 && score >= self.heap[0].score {
            let new = Scored { score, slot };
            if new.rank_cmp(&self.heap[0]) == Ordering::Greater {
                self.heap[0] = new;
                self.sift_down(0);
            }
        }
    }

    /// The score of the worst entry kept, once `k` entries are kept (else `None`).
    pub fn worst(&self) -> Option<f32> {
        (self.k > 0 && self.heap.len() == self.k).then(|| self.heap[0].score)
    }

    /// Adds every entry of `other`.
    pub fn merge(&mut self, other: TopK) {
        for s in other.heap {
            self.push(s.score, s.slot);
        }
    }

    /// The kept entries, best first.
    pub fn into_sorted(mut self) -> Vec<Scored> {
        self.heap.sort_unstable_by(|a, b| b.rank_cmp(a));
        self.heap
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[i].rank_cmp(&self.heap[parent]) == Ordering::Less {
                self.heap.swap(i, parent);
                i = parent;
            } else {
                break;
            }
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut worst = i;
            if l < n && self.heap[l].rank_cmp(&self.heap[worst]) == Ordering::Less {
                worst = l;
            }
            if r < n && self.heap[r].rank_cmp(&self.heap[worst]) == Ordering::Less {
                worst = r;
            }
            if worst == i {
                break;
            }
            self.heap.swap(i, worst);
            i = worst;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_best_with_slot_tie_break() {
        let mut t = TopK::new(3);
        for (slot, score) in [0.1f32, 0.9, 0.5, 0.9, f32::NAN, 0.7, 0.2].iter().enumerate() {
            t.push(*score, slot as u32);
        }
        let got: Vec<(f32, u32)> = t.into_sorted().iter().map(|s| (s.score, s.slot)).collect();
        assert_eq!(got, vec![(0.9, 1), (0.9, 3), (0.7, 5)]);
    }

    #[test]
    fn merge_and_zero_k() {
        let mut a = TopK::new(2);
        let mut b = TopK::new(2);
        a.push(1.0, 4);
        b.push(2.0, 9);
        b.push(1.0, 2);
        a.merge(b);
        let slots: Vec<u32> = a.into_sorted().iter().map(|s| s.slot).collect();
        assert_eq!(slots, vec![9, 2]);
        let mut z = TopK::new(0);
        z.push(1.0, 0);
        assert!(z.into_sorted().is_empty());
    }
}
