"""The vector benchmark runs on small data of either distribution and ends with one JSON object."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evals.bench.vector import _data, run_vector_bench
from memory.errors import InvalidInputError
from memory.native_index import NATIVE_AVAILABLE


@pytest.mark.parametrize("dist", ["clustered", "uniform"])
def test_small_run_prints_one_json_object(dist: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_vector_bench(n=2000, dim=32, k=5, queries=12, json_out=True, dist=dist)
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == result
    assert any("load average" in line for line in out[:-1])
    assert result["dist"] == dist
    load = result["machine"]["load_avg"]
    assert len(load["start"]) == len(load["end"]) == 3
    numpy_f32 = result["results"]["numpy_f32"]
    assert numpy_f32["recall"] == 1.0 and numpy_f32["p95_ms"] >= numpy_f32["p50_ms"] > 0
    assert numpy_f32["mem_mb"] == round(2000 * 32 * 4 / 2**20, 1)
    assert result["results"]["chroma"]["n"] == 2000
    if NATIVE_AVAILABLE:
        native = result["results"]["native_int8"]
        assert native["recall"] >= 0.9 and native["build_s"] >= 0 and "mem_mb" in native
        assert {"native_int8/numpy_f32", "native_f32/numpy_f32"} <= result["ratios"].keys()
        assert "native_int8_filtered10/native_int8" in result["ratios"]


def test_clustered_rows_have_neighbourhoods_and_uniform_rows_do_not() -> None:
    for dist, low, high in (("clustered", 0.65, 1.0), ("uniform", 0.0, 0.55)):
        x, q = _data(dist, np.random.default_rng(0), 3000, 64, 20)
        assert x.dtype == q.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5)
        nearest = (q @ x.T).max(axis=1)
        assert low < float(np.median(nearest)) < high, (dist, np.median(nearest))


def test_unknown_distribution_is_named() -> None:
    with pytest.raises(InvalidInputError, match="gaussian"):
        run_vector_bench(n=1000, dim=8, k=5, queries=2, dist="gaussian")
