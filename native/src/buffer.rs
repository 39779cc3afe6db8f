//! Row storage aligned to 64 bytes (one cache line, one AVX-512 register), either owned in memory
//! or borrowed from a memory-mapped index file. The first write to a mapped buffer copies it
//! (copy-on-write), so a loaded index can still be updated.

use std::sync::Arc;

use memmap2::Mmap;

/// The alignment of every buffer and of every row stride, in bytes.
pub const ALIGN: usize = 64;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([u8; ALIGN]);

const ZERO_LINE: Line = Line([0; ALIGN]);

/// A growable byte buffer whose start is 64-byte aligned.
pub struct Buffer(Repr);

enum Repr {
    /// Heap memory owned by the index.
    Owned { lines: Vec<Line>, bytes: usize },
    /// A section of a memory-mapped file (read-only until first written).
    Mapped { map: Arc<Mmap>, offset: usize, bytes: usize },
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer(Repr::Owned { lines: Vec::new(), bytes: 0 })
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Self {
        Buffer(match &self.0 {
            Repr::Owned { lines, bytes } => Repr::Owned { lines: lines.clone(), bytes: *bytes },
            Repr::Mapped { map, offset, bytes } => {
                Repr::Mapped { map: Arc::clone(map), offset: *offset, bytes: *bytes }
            }
        })
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes, mapped={})", self.len(), self.is_mapped())
    }
}

impl Buffer {
    /// A buffer of `bytes` zero bytes.
    pub fn zeroed(bytes: usize) -> Self {
        Buffer(Repr::Owned { lines: vec![ZERO_LINE; bytes.div_ceil(ALIGN)], bytes })
    }

    /// A view of `bytes` bytes at `offset` of `map`; `offset` must be a multiple of [`ALIGN`] and
    /// the range inside the map (the caller checks both).
    pub fn mapped(map: Arc<Mmap>, offset: usize, bytes: usize) -> Self {
        debug_assert!(offset.is_multiple_of(ALIGN) && offset + bytes <= map.len());
        Buffer(Repr::Mapped { map, offset, bytes })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Owned { bytes, .. } | Repr::Mapped { bytes, .. } => *bytes,
        }
    }

    /// True when the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True while the buffer still reads from a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Repr::Mapped { .. })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Owned { lines, bytes } => {
                // SAFETY: `Line` is plain bytes with no padding; the slice covers `bytes` of them.
                unsafe { std::slice::from_raw_parts(lines.as_ptr().cast::<u8>(), *bytes) }
            }
            Repr::Mapped { map, offset, bytes } => &map[*offset..*offset + *bytes],
        }
    }

    /// The bytes, writable; a mapped buffer is copied into memory first.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        self.make_owned();
        match &mut self.0 {
            Repr::Owned { lines, bytes } => {
                // SAFETY: as in `as_bytes`, and `lines` is uniquely borrowed.
                unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<u8>(), *bytes) }
            }
            Repr::Mapped { .. } => unreachable!("make_owned leaves an owned buffer"),
        }
    }

    fn make_owned(&mut self) {
        if let Repr::Mapped { .. } = self.0 {
            let src = self.as_bytes();
            let mut owned = Buffer::zeroed(src.len());
            if let Repr::Owned { lines, .. } = &mut owned.0 {
                // SAFETY: `lines` holds at least `src.len()` bytes.
                let dst = unsafe {
                    std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<u8>(), src.len())
                };
                dst.copy_from_slice(src);
            }
            *self = owned;
        }
    }

    /// Grows or shrinks to `new_bytes`; new bytes are zero.
    pub fn resize(&mut self, new_bytes: usize) {
        self.make_owned();
        if let Repr::Owned { lines, bytes } = &mut self.0 {
            let old = *bytes;
            lines.resize(new_bytes.div_ceil(ALIGN), ZERO_LINE);
            *bytes = new_bytes;
            if new_bytes > old {
                // The tail of the last old line may hold stale bytes from an earlier shrink.
                // SAFETY: `lines` now holds at least `new_bytes` bytes.
                let all = unsafe {
                    std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast::<u8>(), new_bytes)
                };
                all[old..].fill(0);
            }
        }
    }

    /// The buffer read as `f32` values (its length must be a multiple of 4).
    pub fn as_f32(&self) -> &[f32] {
        cast_slice(self.as_bytes())
    }

    /// The buffer as writable `f32` values.
    pub fn as_f32_mut(&mut self) -> &mut [f32] {
        cast_slice_mut(self.as_bytes_mut())
    }

    /// The buffer read as `i8` values.
    pub fn as_i8(&self) -> &[i8] {
        cast_slice(self.as_bytes())
    }

    /// The buffer as writable `i8` values.
    pub fn as_i8_mut(&mut self) -> &mut [i8] {
        cast_slice_mut(self.as_bytes_mut())
    }
}

/// Plain numeric types for which every bit pattern is a valid value.
pub trait Pod: Copy + 'static {}
impl Pod for f32 {}
impl Pod for i8 {}
impl Pod for u8 {}

fn cast_slice<T: Pod>(bytes: &[u8]) -> &[T] {
    // SAFETY: every bit pattern is a valid `T`; `align_to` only yields aligned elements.
    let (head, mid, tail) = unsafe { bytes.align_to::<T>() };
    assert!(head.is_empty() && tail.is_empty(), "buffer is not aligned for its element type");
    mid
}

fn cast_slice_mut<T: Pod>(bytes: &mut [u8]) -> &mut [T] {
    // SAFETY: as in `cast_slice`.
    let (head, mid, tail) = unsafe { bytes.align_to_mut::<T>() };
    assert!(head.is_empty() && tail.is_empty(), "buffer is not aligned for its element type");
    mid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_buffers_are_aligned_and_zeroed_on_growth() {
        let mut b = Buffer::zeroed(10 * 4);
        assert_eq!(b.as_bytes().as_ptr() as usize % ALIGN, 0);
        b.as_f32_mut()[9] = 3.5;
        b.resize(4 * 4);
        b.resize(40 * 4);
        assert_eq!(b.as_f32().len(), 40);
        assert!(b.as_f32().iter().all(|&x| x == 0.0));
    }

    #[test]
    fn mapped_buffers_copy_on_first_write() {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7u8; 256]).unwrap();
        let map = Arc::new(unsafe { Mmap::map(&file).unwrap() });
        let mut b = Buffer::mapped(Arc::clone(&map), 64, 128);
        assert!(b.is_mapped());
        assert_eq!(b.as_i8()[0], 7);
        b.as_i8_mut()[0] = 1;
        assert!(!b.is_mapped());
        assert_eq!(b.as_i8()[0], 1);
        assert_eq!(map[64], 7);
    }
}
