//! A fixed-length bitset over index slots: the alive set, the validity flags and query filters.

/// One bit per slot, packed in 64-bit words; bits past `len` are always zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: usize,
}

impl Bitmap {
    /// All bits clear.
    pub fn zeros(len: usize) -> Self {
        Bitmap { words: vec![0; len.div_ceil(64)], len }
    }

    /// All bits set.
    pub fn ones(len: usize) -> Self {
        let mut b = Bitmap { words: vec![u64::MAX; len.div_ceil(64)], len };
        b.clear_tail();
        b
    }

    /// Builds a bitmap from packed words (tail bits are cleared).
    pub fn from_words(words: Vec<u64>, len: usize) -> Self {
        debug_assert_eq!(words.len(), len.div_ceil(64));
        let mut b = Bitmap { words, len };
        b.clear_tail();
        b
    }

    fn clear_tail(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of bits (set or not).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the bitmap has no bits at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The packed words.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Value of bit `i` (false past the end).
    #[inline]
    pub fn get(&self, i: usize) -> bool {
        i < self.len && (self.words[i / 64] >> (i % 64)) & 1 == 1
    }

    /// Sets bit `i` to `value`; `i` must be below `len`.
    #[inline]
    pub fn set(&mut self, i: usize, value: bool) {
        let (w, b) = (i / 64, i % 64);
        if value {
            self.words[w] |= 1 << b;
        } else {
            self.words[w] &= !(1 << b);
        }
    }

    /// Appends one bit.
    pub fn push(&mut self, value: bool) {
        if self.len.is_multiple_of(64) {
            self.words.push(0);
        }
        self.len += 1;
        self.set(self.len - 1, value);
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// In-place intersection with `other` (same length).
    pub fn and_assign(&mut self, other: &Bitmap) {
        debug_assert_eq!(self.len, other.len);
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= *b;
        }
    }

    /// Indices of the set bits, ascending.
    pub fn iter_ones(&self) -> impl Iterator<Item = usize> + '_ {
        ones_in_words(&self.words, 0)
    }
}

/// Indices of the set bits of `words`, where `words[0]` holds bits `first_word*64 ..`.
pub fn ones_in_words(words: &[u64], first_word: usize) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(move |(wi, &w)| {
        let base = (first_word + wi) * 64;
        BitIter(w).map(move |b| base + b)
    })
}

struct BitIter(u64);

impl Iterator for BitIter {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let b = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_count_and_iterate() {
        let mut b = Bitmap::zeros(130);
        for i in [0, 63, 64, 129] {
            b.set(i, true);
        }
        assert_eq!(b.count_ones(), 4);
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![0, 63, 64, 129]);
        b.set(63, false);
        assert!(!b.get(63));
        assert!(!b.get(500));
    }

    #[test]
    fn ones_clears_tail_and_push_grows() {
        let mut b = Bitmap::ones(65);
        assert_eq!(b.count_ones(), 65);
        b.push(true);
        b.push(false);
        assert_eq!(b.len(), 67);
        assert_eq!(b.count_ones(), 66);
        let mut c = Bitmap::zeros(67);
        c.set(66, true);
        c.set(3, true);
        b.and_assign(&c);
        assert_eq!(b.iter_ones().collect::<Vec<_>>(), vec![3]);
    }
}
