"""Benchmark of the memory store: write throughput, query latency, embedding throughput.

Units are written through the :class:`~memory.store.MemoryStore` facade (journal, Chroma,
hypergraph, in-process index) into a temporary embedded store, with the configured embedder
(MiniLM by default). Texts are sentences of LoCoMo turns when the file is present (turn text,
speaker, session date and image caption only), else synthetic sentences.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from memory.embeddings import Embedder, embedder_from_settings
from memory.errors import InvalidInputError
from memory.model import Granularity, MemoryUnit, Namespace, make_unit
from memory.settings import Settings
from memory.store import MemoryStore

__all__ = ["DEFAULT_LOCOMO", "run_store_bench"]

DEFAULT_LOCOMO = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "locomo" / "locomo_dev.json"
)
WRITE_BATCH = 256
QUERIES = 200
EMBED_SAMPLE = 2_000
K = 10

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class _Line:
    speaker: str
    text: str
    session: str
    when: datetime | None


def _session_time(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def _locomo_lines(path: Path) -> tuple[list[_Line], list[str]]:
    """Sentences of every turn (and image captions), and the questions to use as queries."""
    lines: list[_Line] = []
    questions: list[str] = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        conv = sample["conversation"]
        for key, turns in conv.items():
            if not (key.startswith("session_") and isinstance(turns, list)):
                continue
            session = f"{sample['sample_id']}:{key}"
            when = _session_time(conv.get(f"{key}_date_time"))
            for turn in turns:
                parts = _SENTENCE.split(str(turn.get("text", "")))
                if turn.get("blip_caption"):
                    parts.append(f"shared a photo of {turn['blip_caption']}")
                for part in parts:
                    if len(part.split()) >= 3:
                        lines.append(_Line(str(turn["speaker"]), part.strip(), session, when))
        questions += [str(q["question"]) for q in sample.get("qa", []) if q.get("question")]
    return lines, questions


_WORDS = [
    *("hiking", "painting", "guitar", "sister", "adoption", "school", "marathon", "garden"),
    *("recipe", "concert", "camping", "interview", "pottery", "volunteering", "bakery"),
    *("library", "museum", "beach", "promotion", "puppy"),
]


def _synthetic_lines(rng: np.random.Generator) -> tuple[list[_Line], list[str]]:
    lines = []
    for i in range(3_000):
        a, b = rng.choice(_WORDS, size=2, replace=False)
        text = f"Last week I went {a} with my friends and we talked about {b} for hours."
        lines.append(_Line(f"speaker{i % 7}", text, f"synthetic:{i // 20}", None))
    questions = [f"What did they say about {w}?" for w in _WORDS] * 10
    return lines, questions


def _texts(lines: list[_Line], n: int, rng: np.random.Generator) -> Iterator[tuple[_Line, str]]:
    """``n`` varied texts: every sentence once, then sentences joined with a random other one."""
    for i in range(n):
        line = lines[i % len(lines)]
        if i < len(lines):
            yield line, f"{line.speaker}: {line.text}"
        else:
            other = lines[int(rng.integers(len(lines)))]
            yield line, f"{line.speaker}: {line.text} Also, {other.text[0].lower()}{other.text[1:]}"


def _units(ns: Namespace, lines: list[_Line], n: int, seed: int) -> list[MemoryUnit]:
    rng = np.random.default_rng(seed)
    return [
        make_unit(
            ns,
            Granularity.FACT,
            text,
            provenance=[f"bench:{i}"],
            session_id=line.session,
            speaker=line.speaker,
            event_time=line.when,
            entities=(line.speaker,),
        )
        for i, (line, text) in enumerate(_texts(lines, n, rng))
    ]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _timed_writes(
    store: MemoryStore, ns: Namespace, units: list[MemoryUnit], progress: Progress
) -> float:
    """Seconds to write ``units`` in batches of ``WRITE_BATCH``."""
    task = progress.add_task("write", total=len(units))
    start = time.perf_counter()
    for i in range(0, len(units), WRITE_BATCH):
        batch = units[i : i + WRITE_BATCH]
        store.add_units(ns, batch)
        progress.advance(task, len(batch))
    return time.perf_counter() - start


def _timed_queries(
    store: MemoryStore, ns: Namespace, asked: list[str], progress: Progress
) -> tuple[float, list[float]]:
    """The first search's ms (it loads the in-process index), then each question's ms."""
    start = time.perf_counter()
    store.search(ns, "warm up the in-process index", k=K)
    load_ms = (time.perf_counter() - start) * 1e3
    task = progress.add_task("query", total=len(asked))
    latencies = []
    for question in asked:
        start = time.perf_counter()
        store.search(ns, question, k=K)
        latencies.append((time.perf_counter() - start) * 1e3)
        progress.advance(task)
    return load_ms, latencies


def _timed_embedding(model: Embedder, sample: list[str], progress: Progress) -> float:
    task = progress.add_task("embed", total=len(sample))
    start = time.perf_counter()
    for i in range(0, len(sample), 250):
        model.embed(sample[i : i + 250])
        progress.advance(task, len(sample[i : i + 250]))
    return time.perf_counter() - start


def run_store_bench(
    n: int = 10_000,
    json_out: bool = False,
    *,
    embedder: Embedder | None = None,
    data: Path | None = None,
    queries: int = QUERIES,
    seed: int = 0,
) -> dict[str, Any]:
    """Write ``n`` units, run ``queries`` searches (k=10), time the embedder; print and return
    ``units``, ``write_units_per_s``, ``query_p50_ms``, ``query_p95_ms``, ``embed_texts_per_s``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidInputError(f"n must be a positive integer, not {n!r}")
    if queries < 1:
        raise InvalidInputError(f"queries must be a positive integer, not {queries!r}")
    settings = Settings(chroma_host=None)  # always a throw-away embedded store
    model = embedder or embedder_from_settings(settings)
    source = data if data is not None else DEFAULT_LOCOMO
    rng = np.random.default_rng(seed)
    lines, questions = _locomo_lines(source) if source.is_file() else _synthetic_lines(rng)
    corpus = "LoCoMo sentences" if source.is_file() else "synthetic sentences"
    ns = Namespace(user_id="bench")
    units = _units(ns, lines, n, seed)
    asked = [questions[int(i)] for i in rng.integers(len(questions), size=queries)]
    err = Console(stderr=True)

    with (
        tempfile.TemporaryDirectory(prefix="hypermnesia-bench-") as tmp,
        MemoryStore.open(Path(tmp), settings=settings, embedder=model) as store,
        _progress(err) as progress,
    ):
        write_s = _timed_writes(store, ns, units, progress)
        load_ms, latencies = _timed_queries(store, ns, asked, progress)
        sample = [u.text for u in units[:EMBED_SAMPLE]]
        embed_s = _timed_embedding(model, sample, progress)

    p50, p95 = np.percentile(latencies, [50, 95])
    result: dict[str, Any] = {
        "units": n,
        "write_units_per_s": round(n / write_s, 1),
        "query_p50_ms": round(float(p50), 2),
        "query_p95_ms": round(float(p95), 2),
        "embed_texts_per_s": round(len(sample) / embed_s, 1),
    }
    table = Table(title=f"memory store, {n} units of {corpus}, embedder {model.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("write (add_units, embedding included)", f"{result['write_units_per_s']} units/s")
    table.add_row(f"search k={K}, query embedding included, p50", f"{result['query_p50_ms']} ms")
    table.add_row(f"search k={K}, p95 ({queries} questions)", f"{result['query_p95_ms']} ms")
    table.add_row("first search (loads the in-process index)", f"{load_ms:.1f} ms")
    table.add_row(f"embedding ({len(sample)} texts)", f"{result['embed_texts_per_s']} texts/s")
    Console().print(table)
    if json_out:
        print(json.dumps(result))
    return result
