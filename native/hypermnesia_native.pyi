"""Native vector core of Hypermnesia (Rust, PyO3). Use it through ``memory.native_index``."""

from os import PathLike

import numpy as np
import numpy.typing as npt

__version__: str

class NativeInputError(ValueError):
    """Rejected input: shape, dtype, non-finite value, duplicate id, bad option."""

class NativeNotFoundError(KeyError):
    """An id that is not in the index."""

class NativeCorruptError(RuntimeError):
    """A saved index file that cannot be read back."""

Hits = list[tuple[str, float]]

class VectorIndex:
    """Rows addressed by string ids; exact f32 or int8 + f32 rerank top-k with filters."""

    def __init__(self, dim: int, metric: str = "cosine", storage: str = "int8") -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def metric(self) -> str: ...
    @property
    def storage(self) -> str: ...
    @property
    def slot_count(self) -> int: ...
    @property
    def is_mapped(self) -> bool: ...
    def __len__(self) -> int: ...
    def __contains__(self, id: str) -> bool: ...
    def ids(self) -> list[str]: ...
    def write_rows(
        self,
        ids: list[str],
        vectors: npt.NDArray[np.float32],
        namespaces: list[str],
        granularities: list[str],
        current: list[bool],
        mode: str,
    ) -> None: ...
    def remove(self, ids: list[str]) -> None: ...
    def set_current(self, ids: list[str], current: bool) -> None: ...
    def compact(self) -> None: ...
    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        namespace: str | None = None,
        granularities: list[str] | None = None,
        current_only: bool = False,
        ids: list[str] | None = None,
        exact: bool = False,
        candidates: int | None = None,
    ) -> Hits: ...
    def search_batch(
        self,
        queries: npt.NDArray[np.float32],
        k: int,
        namespace: str | None = None,
        granularities: list[str] | None = None,
        current_only: bool = False,
        ids: list[str] | None = None,
        exact: bool = False,
        candidates: int | None = None,
    ) -> list[Hits]: ...
    def score(self, query: npt.NDArray[np.float32], ids: list[str]) -> Hits: ...
    def save(self, path: str | PathLike[str]) -> None: ...
    @staticmethod
    def load(path: str | PathLike[str], mmap: bool = True) -> VectorIndex: ...

class Incidence:
    def __init__(
        self,
        edge_ptr: npt.NDArray[np.int64],
        edge_vertices: npt.NDArray[np.int32],
        n_vertices: int,
        edge_weights: npt.NDArray[np.float64],
    ) -> None: ...
    def pagerank(
        self,
        seed_edges: dict[int, float],
        seed_vertices: dict[int, float],
        alpha: float = 0.85,
        max_iter: int = 100,
        tol: float = 1e-6,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

def isa() -> str: ...
def available_isas() -> list[str]: ...
def default_candidates(k: int) -> int: ...
