"""Benchmark loaders: each returns a :class:`Dataset` of conversations and questions."""

from __future__ import annotations

from pathlib import Path

from evals.loaders._common import Dataset, SkippedQuestion
from evals.loaders.locomo import LOCOMO_CATEGORIES, LOCOMO_URL, load_locomo, normalize_evidence
from evals.loaders.longmemeval import LONGMEMEVAL_CATEGORIES, load_longmemeval
from memory.errors import InvalidInputError

__all__ = [
    "DATASETS",
    "LOCOMO_CATEGORIES",
    "LOCOMO_URL",
    "LONGMEMEVAL_CATEGORIES",
    "Dataset",
    "SkippedQuestion",
    "load_dataset",
    "load_locomo",
    "load_longmemeval",
    "normalize_evidence",
]

DATASETS = ("locomo", "longmemeval")


def load_dataset(name: str, path: Path) -> Dataset:
    """Load ``path`` as the benchmark ``name``."""
    if name == "locomo":
        return load_locomo(path)
    if name == "longmemeval":
        return load_longmemeval(path)
    raise InvalidInputError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}")
