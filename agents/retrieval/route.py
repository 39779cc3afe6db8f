"""Stage 3 of the read path: how much to trust each granularity on this query (MemGAS-style).

A granularity whose best dense similarities stand out from the rest (low entropy) clearly matches
the query and is trusted more; one whose scores are flat is trusted less.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from agents.retrieval.types import Hit
from memory.model import MemoryUnit

__all__ = ["route_weights"]

TEMPERATURE = 0.05
"""Softmax temperature over cosine scores: a 0.05 gap is a factor e in probability."""


def route_weights(
    units: Mapping[str, MemoryUnit], dense: Sequence[Hit], *, top: int = 10
) -> dict[str, float]:
    """Granularity → weight, from the normalised entropy of its ``top`` dense scores.

    Each weight is 0.5 + (1 − entropy), so in [0.5, 1.5]; a granularity with one hit gets 1;
    the weights are then rescaled to average 1.
    """
    by_gran: dict[str, list[float]] = {}
    for uid, score in dense:
        unit = units.get(uid)
        if unit is not None:
            by_gran.setdefault(unit.granularity.value, []).append(score)
    weights: dict[str, float] = {}
    for gran, scores in by_gran.items():
        s = np.sort(np.asarray(scores, dtype=np.float64))[::-1][:top]
        if len(s) < 2:
            weights[gran] = 1.0
            continue
        p = np.exp((s - s.max()) / TEMPERATURE)
        p /= p.sum()
        entropy = float(-(p * np.log(p + 1e-12)).sum() / math.log(len(s)))
        weights[gran] = 0.5 + (1.0 - entropy)
    if weights:
        mean = sum(weights.values()) / len(weights)
        weights = {g: w / mean for g, w in weights.items()}
    return weights
