"""MiniLM batching and windows: padded-piece budget, input order, one encoding per distinct text,
long texts embedded in full, short texts embedded as the model alone embeds them."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from memory import embeddings
from memory.embeddings import (
    MAX_WORD_PIECES,
    EncoderStats,
    MiniLMEmbedder,
    _plan_batches,
    _plan_windows,
    _Windows,
    embedder_from_settings,
)
from memory.errors import InvalidInputError
from memory.settings import Settings

TEXTS = [
    "Caroline went to an LGBTQ support group on Sunday.",
    "ok",
    "I'm thinking of adopting a dog; my apartment finally allows pets and I have a yard now.",
    "Yes!",
    "She ran a charity race for mental health awareness in June.",
    "",
    "Melanie painted a sunrise over the lake last year, and she wants to paint the sunset next.",
]

FILLER = (
    "We spent the whole afternoon talking about the garden, the tomatoes that never ripened, "
    "the compost heap behind the shed, and how the neighbours keep borrowing the ladder. "
)
KEY = "My sister Anna adopted a grey greyhound called Pixel from the rescue shelter in Leeds."
QUERY = "Which dog did Anna adopt from the shelter?"


class _RecordingMiniLM(MiniLMEmbedder):
    """The real embedder, recording the shape of every batch it sends to the model."""

    def __init__(self, batch_size: int = 64, *, batch_pieces: int = 1024) -> None:
        super().__init__(batch_size, batch_pieces=batch_pieces)
        self.shapes: list[tuple[int, int]] = []

    def _encode_batches(
        self, rt: embeddings._MiniLMRuntime, windows: _Windows, batches: list[list[int]]
    ) -> Iterator[embeddings._Encoded]:
        self.shapes += [(len(b), max(len(windows.rows[r]) for r in b)) for b in batches]
        return super()._encode_batches(rt, windows, batches)


def _model_alone(text: str) -> np.ndarray:
    """One text through the ONNX session with no batching, windows or pooling tricks."""
    rt = embeddings._runtime()
    enc = rt.tokenizer.encode(text)
    ids = np.asarray([enc.ids], dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": 0 * ids}
    (hidden,) = rt.session.run(["last_hidden_state"], {k: feeds[k] for k in rt.input_names})
    vector = hidden[0].mean(axis=0)
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)


def _long_text() -> tuple[str, str]:
    """A text whose key sentence starts past word piece 300, and its first 254 pieces."""
    filler = FILLER * 12
    rt = embeddings._runtime()
    enc = rt.tokenizer.encode(filler)
    assert len(enc.ids) > 310
    head_end = enc.offsets[MAX_WORD_PIECES - 1][0]  # first piece past the 254 after [CLS]
    return filler + KEY, filler[:head_end]


@pytest.fixture(scope="module")
def minilm() -> _RecordingMiniLM:
    model = _RecordingMiniLM(batch_pieces=MAX_WORD_PIECES)
    model.load()
    return model


# --- plans, on plain numbers -------------------------------------------------------------------


@given(
    lengths=st.lists(st.integers(1, 600), max_size=60),
    budget=st.integers(256, 4096),
    rows=st.integers(1, 70),
)
def test_batches_cover_every_row_once_within_the_budget(
    lengths: list[int], budget: int, rows: int
) -> None:
    batches = _plan_batches(lengths, budget, rows)
    assert sorted(r for b in batches for r in b) == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= rows
        padded = len(batch) * max(lengths[r] for r in batch)
        assert padded <= budget or len(batch) == 1
    widths = [max(lengths[r] for r in b) for b in batches]
    assert widths == sorted(widths)  # shortest first, so each batch holds alike lengths


@given(
    lengths=st.lists(st.integers(1, 300), min_size=1, max_size=8),
    budget=st.integers(256, 1200),
    run_cost=st.integers(0, 200),
)
def test_batches_cost_no_more_than_any_other_split(
    lengths: list[int], budget: int, run_cost: int
) -> None:
    def cost(runs: Sequence[Sequence[int]]) -> int:
        return sum(run_cost + len(r) * max(r) for r in runs)

    def fits(run: Sequence[int]) -> bool:
        return len(run) == 1 or len(run) * max(run) <= budget

    ordered = sorted(lengths)
    best = None
    for mask in range(2 ** (len(ordered) - 1)):  # every split of the sorted rows into runs
        cuts = [0, *(i + 1 for i in range(len(ordered) - 1) if mask >> i & 1), len(ordered)]
        runs = [ordered[a:b] for a, b in itertools.pairwise(cuts)]
        if all(fits(r) for r in runs):
            best = cost(runs) if best is None else min(best, cost(runs))
    plan = _plan_batches(lengths, budget, 64, run_cost)
    assert cost([[lengths[i] for i in b] for b in plan]) == best


def test_batches_group_alike_lengths() -> None:
    lengths = [200, 12, 250, 10, 11, 240]
    # A short row is never padded to a long one: that would cost more than a run of its own.
    assert _plan_batches(lengths, 4096, 64) == [[3, 4, 1], [0], [5, 2]]
    assert _plan_batches(lengths, 4096, 64, run_cost=1000) == [[3, 4, 1, 0, 5, 2]]
    assert _plan_batches(lengths, 480, 64, run_cost=1000) == [[3, 4, 1], [0, 5], [2]]
    assert _plan_batches([10] * 5, 4096, 2) == [[0], [1, 2], [3, 4]]
    with pytest.raises(InvalidInputError, match="max_pieces and max_rows must be positive"):
        _plan_batches(lengths, 0, 1)


@given(n=st.integers(0, 2000), width=st.integers(8, 300), seed=st.integers(0, 2**32 - 1))
def test_windows_tile_the_text_and_fit(n: int, width: int, seed: int) -> None:
    starts = list(np.random.default_rng(seed).random(n) < 0.7)
    windows = _plan_windows(starts, width)
    assert windows[0][0] == 0 and windows[-1][1] == n
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert all(0 < end - start <= width for start, end in windows) or n == 0
    assert len(windows) == max(1, -(-n // width))


def test_windows_are_balanced_and_cut_at_word_starts() -> None:
    every = [True] * 260
    assert _plan_windows(every, 254) == [(0, 130), (130, 260)]  # not 254 + a 6-piece scrap
    starts = [True] * 600
    for i in range(195, 202):
        starts[i] = False  # one long word made of pieces 194..201
    assert _plan_windows(starts, 254)[0] == (0, 194)
    assert _plan_windows([], 254) == [(0, 0)]
    with pytest.raises(InvalidInputError, match="width must be a positive integer"):
        _plan_windows(every, 0)


# --- the real tokenizer and model ---------------------------------------------------------------


def test_real_batches_respect_the_budget_and_keep_the_order(minilm: _RecordingMiniLM) -> None:
    long, _ = _long_text()
    texts = [*TEXTS, long, *TEXTS[:3]]
    minilm.shapes.clear()
    before = minilm.stats()
    out = minilm.embed(texts)
    done = minilm.stats() - before
    assert all(rows * width <= MAX_WORD_PIECES for rows, width in minilm.shapes)
    assert len(minilm.shapes) > 1 and done.batches == len(minilm.shapes)
    assert done.padded_pieces == sum(rows * width for rows, width in minilm.shapes)
    one_by_one = np.vstack([minilm.embed([t]) for t in texts])
    np.testing.assert_allclose(out, one_by_one, atol=2e-5)


def test_duplicates_are_encoded_once(minilm: _RecordingMiniLM) -> None:
    texts = ["a cat", "a dog", "a cat", "a cat", "", ""]
    minilm.shapes.clear()
    before = minilm.stats()
    out = minilm.embed(texts)
    done = minilm.stats() - before
    assert sum(rows for rows, _ in minilm.shapes) == 3  # "a cat", "a dog", ""
    assert (done.texts, done.encoded, done.windows) == (6, 3, 3)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[3])
    np.testing.assert_array_equal(out[4], out[5])
    assert float(out[0] @ out[1]) < 0.99


def test_short_texts_embed_as_the_model_alone(minilm: _RecordingMiniLM) -> None:
    batched = MiniLMEmbedder(batch_size=64, batch_pieces=1024).embed(TEXTS)
    for text, vector in zip(TEXTS, batched, strict=True):
        assert float(vector @ _model_alone(text)) > 0.99999, text


def test_a_long_text_is_embedded_in_full(minilm: _RecordingMiniLM) -> None:
    long, head = _long_text()
    minilm.shapes.clear()
    before = minilm.stats()
    full, truncated, query = minilm.embed([long, head, QUERY])
    done = minilm.stats() - before
    assert done.windows == 4 and done.encoded == 3  # the long text took two windows
    assert all(width <= MAX_WORD_PIECES for _, width in minilm.shapes)
    # The head alone is what a cut at 256 pieces embedded: it never saw the key sentence.
    np.testing.assert_allclose(truncated, _model_alone(head), atol=2e-5)
    assert float(query @ full) > float(query @ truncated) + 0.05
    np.testing.assert_allclose(np.linalg.norm(full), 1.0, atol=1e-5)


def test_many_batches_run_in_lanes_with_the_vectors_of_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    encode = embeddings._encode_batch

    def watched(*args: object) -> embeddings._Encoded:
        threads.append(threading.current_thread().name)
        return encode(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(embeddings, "_encode_batch", watched)
    long, _ = _long_text()
    texts = [*TEXTS, long]
    two_rows = MiniLMEmbedder(batch_size=2)  # enough batches to run in lanes
    out = two_rows.embed(texts)
    assert len(threads) >= 4 and all(name.startswith("minilm-lane") for name in threads)
    threads.clear()
    one_by_one = np.vstack([two_rows.embed([t]) for t in texts])
    assert set(threads) == {threading.current_thread().name}  # one batch: on the caller
    np.testing.assert_allclose(out, one_by_one, atol=2e-5)


def test_count_pieces_is_what_the_model_runs_over(minilm: _RecordingMiniLM) -> None:
    long, _ = _long_text()
    texts = [*TEXTS, long]
    before = minilm.stats()
    minilm.embed(texts)
    done = minilm.stats() - before
    assert minilm.count_pieces(texts) == done.pieces
    assert minilm.count_pieces(["a cat", "a cat"]) == 2 * minilm.count_pieces(["a cat"]) == 2 * 4
    assert minilm.count_pieces([]) == 0
    assert done.inference_s > 0 and done.embed_s > 0
    assert done.inference_pieces_per_s > 0 and EncoderStats().inference_pieces_per_s == 0.0


def test_batch_budget_is_checked_and_comes_from_settings() -> None:
    with pytest.raises(InvalidInputError, match="batch_pieces must be an integer >= 256"):
        MiniLMEmbedder(batch_pieces=100)
    model = embedder_from_settings(Settings(embedder="minilm", embed_batch_pieces=2048))
    assert isinstance(model, MiniLMEmbedder) and model.batch_pieces == 2048
