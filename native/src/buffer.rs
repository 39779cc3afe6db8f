//! Row storage: page-aligned anonymous memory (with transparent huge pages where the kernel
//! offers them, which spares a filtered scan one TLB miss per row), or a section of a
//! memory-mapped index file. The first write to a mapped buffer copies it (copy-on-write), so a
//! loaded index can still be updated.

use std::sync::Arc;

use memmap2::{Advice, Mmap, MmapMut};

/// The alignment of every section and of every row stride, in bytes.
pub const ALIGN: usize = 64;

const MIN_CAPACITY: usize = 1 << 16;

/// A growable byte buffer whose start is at least 64-byte aligned.
#[derive(Default)]
pub struct Buffer(Repr);

#[derive(Default)]
enum Repr {
    /// No bytes yet.
    #[default]
    Empty,
    /// Anonymous memory owned by the index; `map.len()` is the capacity.
    Owned { map: MmapMut, bytes: usize },
    /// A section of a memory-mapped file (read-only until first written).
    Mapped { map: Arc<Mmap>, offset: usize, bytes: usize },
}

impl Clone for Buffer {
    fn clone(&self) -> Self {
        match &self.0 {
            Repr::Empty => Buffer(Repr::Empty),
            Repr::Owned { .. } => Buffer::from_bytes(self.as_bytes()),
            Repr::Mapped { map, offset, bytes } => {
                Buffer(Repr::Mapped { map: Arc::clone(map), offset: *offset, bytes: *bytes })
            }
        }
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes, mapped={})", self.len(), self.is_mapped())
    }
}

/// Anonymous zeroed memory of at least `capacity` bytes, asking for huge pages.
fn anon(capacity: usize) -> MmapMut {
    let map = MmapMut::map_anon(capacity.max(1))
        .unwrap_or_else(|e| panic!("cannot allocate {capacity} bytes: {e}"));
    let _ = map.advise(Advice::HugePage); // a hint: without it the kernel uses small pages
    map
}

impl Buffer {
    /// A buffer of `bytes` zero bytes.
    pub fn zeroed(bytes: usize) -> Self {
        if bytes == 0 {
            return Buffer(Repr::Empty);
        }
        Buffer(Repr::Owned { map: anon(bytes), bytes })
    }

    /// An owned copy of `src`.
    pub fn from_bytes(src: &[u8]) -> Self {
        let mut b = Buffer::zeroed(src.len());
        b.as_bytes_mut().copy_from_slice(src);
        b
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
            Repr::Empty => 0,
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
            Repr::Empty => &[],
            Repr::Owned { map, bytes } => &map[..*bytes],
            Repr::Mapped { map, offset, bytes } => &map[*offset..*offset + *bytes],
        }
    }

    /// The bytes, writable; a mapped buffer is copied into memory first.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        if let Repr::Mapped { .. } = self.0 {
            *self = Buffer::from_bytes(self.as_bytes());
        }
        match &mut self.0 {
            Repr::Empty => &mut [],
            Repr::Owned { map, bytes } => &mut map[..*bytes],
            Repr::Mapped { .. } => unreachable!("a mapped buffer was just copied"),
        }
    }

    /// Grows or shrinks to `new_bytes`; new bytes are zero. Growth doubles the capacity.
    pub fn resize(&mut self, new_bytes: usize) {
        if let Repr::Mapped { .. } = self.0 {
            self.as_bytes_mut();
        }
        match &mut self.0 {
            Repr::Empty if new_bytes > 0 => {
                let capacity = new_bytes.max(MIN_CAPACITY);
                self.0 = Repr::Owned { map: anon(capacity), bytes: new_bytes };
            }
            Repr::Owned { map, bytes } => {
                if new_bytes < *bytes {
                    map[new_bytes..*bytes].fill(0); // keep the spare capacity zeroed
                } else if new_bytes > map.len() {
                    // Fresh anonymous memory is zero: only the live bytes are copied.
                    let mut grown = anon(new_bytes.max(2 * map.len()));
                    grown[..*bytes].copy_from_slice(&map[..*bytes]);
                    *map = grown;
                }
                *bytes = new_bytes;
            }
            _ => {}
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
        let mut b = Buffer::default();
        b.resize(10 * 4);
        assert_eq!(b.as_bytes().as_ptr() as usize % ALIGN, 0);
        b.as_f32_mut()[9] = 3.5;
        b.resize(4 * 4);
        b.resize(40 * 4);
        assert_eq!(b.as_f32().len(), 40);
        assert!(b.as_f32().iter().all(|&x| x == 0.0));
        b.as_f32_mut()[39] = 1.0;
        b.resize(MIN_CAPACITY * 3);
        assert_eq!(b.as_f32()[39], 1.0);
        assert_eq!(b.clone().as_f32()[39], 1.0);
    }

    #[test]
    fn mapped_buffers_copy_on_first_write() {
        use std::io::Write;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7u8; 256]).unwrap();
        // SAFETY: the temporary file is not modified while mapped.
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
