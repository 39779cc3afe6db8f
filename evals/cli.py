"""What ``python app.py eval`` runs: load a benchmark, evaluate the systems, write the report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from evals.answers import AnswerConfig
from evals.loaders import DATASETS, LOCOMO_URL, Dataset, load_dataset
from evals.report import main_table, summarize, write_outputs
from evals.rl.compare import compare_records, comparison_markdown
from evals.runner import DEFAULT_BUDGETS, RunConfig, RunOutcome, run
from evals.systems import SystemSpec, known_systems, system_spec, unavailable_reason
from memory.errors import HypermnesiaError, InvalidInputError
from memory.settings import Settings

__all__ = ["DEFAULT_SYSTEMS", "cli_eval", "fetch", "resolve_data", "run_eval"]

DEFAULT_SYSTEMS = ("hypermnesia", "full_context", "bm25", "dense", "hybrid")
LEARNED = "hypermnesia-learned"
"""The system a trained router (``--policy``) adds beside ``hypermnesia``."""


def fetch(url: str, dest: Path) -> Path:
    """Download ``url`` to ``dest`` (reused when already there)."""
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    import httpx

    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_suffix(dest.suffix + ".part")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            with partial.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise HypermnesiaError(
            f"cannot download {url}: {exc or type(exc).__name__} "
            "(no internet here? pass a local copy with --data PATH)"
        ) from exc
    partial.replace(dest)
    return dest


def resolve_data(dataset: str, data: str, out: Path) -> Path:
    """A local path for ``data``: a file, a URL (downloaded into ``out``), or ``download``."""
    if data == "download":
        if dataset != "locomo":
            raise InvalidInputError(
                f"--data download is only available for locomo; pass a {dataset} file"
            )
        data = LOCOMO_URL
    if urlparse(data).scheme in ("http", "https"):
        name = Path(urlparse(data).path).name or f"{dataset}.json"
        return fetch(data, out / "data" / name)
    path = Path(data).expanduser()
    if not path.is_file():
        raise InvalidInputError(f"missing file: {path}")
    return path


def _parse_budgets(budgets: Sequence[int] | str) -> tuple[int, ...]:
    if isinstance(budgets, str):
        try:
            values = tuple(int(b) for b in budgets.split(",") if b.strip())
        except ValueError:
            raise InvalidInputError(
                f"budgets must be comma-separated integers: {budgets!r}"
            ) from None
    else:
        values = tuple(int(b) for b in budgets)
    if not values or any(b <= 0 for b in values):
        raise InvalidInputError(f"budgets must be positive token counts: {budgets!r}")
    return tuple(sorted(set(values)))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def run_eval(
    dataset: str,
    data: str | Path,
    out: Path,
    systems: Sequence[str] = DEFAULT_SYSTEMS,
    workers: int = 2,
    fresh: bool = False,
    budgets: Sequence[int] | str = DEFAULT_BUDGETS,
    limit_conversations: int | None = None,
    seed: int = 0,
    console: Console | None = None,
    answers: AnswerConfig | None = None,
    agents_llm: tuple[str, str | None] | None = None,
    policy: Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``systems`` on a benchmark file and write results.json, report.md and plots.

    With ``answers``, an LLM also answers every question from the items packed at the answer
    budget, and the answers are scored (F1, BLEU-1, LLM judge). With ``agents_llm`` (model,
    api_base), Hypermnesia's agents run in LLM mode on that model. A system that is known but cannot
    be built here (its adapter is missing or broken) is listed as unavailable in the report; an
    unknown name is an error. With ``policy`` (a trained router), ``hypermnesia-learned`` runs
    beside ``hypermnesia`` on its ingest, and the two are compared question by question.
    """
    console = console or Console(stderr=True)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if dataset not in DATASETS:
        raise InvalidInputError(f"unknown dataset {dataset!r}: use one of {', '.join(DATASETS)}")
    out = Path(out)
    path = resolve_data(dataset, str(data), out)
    loaded = load_dataset(dataset, path).limited(limit_conversations)
    if policy is not None:
        systems = _with_learned(systems, policy)
    names, unavailable = _available(systems, console)
    config = RunConfig(
        out=out,
        systems=_specs(names, seed, out, agents_llm, policy),
        budgets=_parse_budgets(budgets),
        workers=workers,
        fresh=fresh,
        seed=seed,
        answers=answers,
    )
    outcome = _run_with_progress(loaded, config, console)
    results = summarize(loaded, outcome, config, unavailable)
    if policy is not None and {"hypermnesia", LEARNED} <= set(names):
        results["policy_comparison"] = compare_records(
            outcome.records, "hypermnesia", LEARNED, config.budgets, loaded.overall_categories
        )
    with _progress(console) as bar:
        task = bar.add_task("report", total=1)
        written = write_outputs(results, outcome.records, out)
        bar.advance(task)
    _print_results(results, out)
    console.print(f"wrote {', '.join(str(p) for p in written)}")
    return results


def _specs(
    names: Sequence[str],
    seed: int,
    out: Path,
    agents_llm: tuple[str, str | None] | None,
    policy: Path | None,
) -> tuple[SystemSpec, ...]:
    llm_options: dict[str, Any] = {}
    if agents_llm is not None:
        llm_options = {"llm_model": agents_llm[0], "llm_api_base": agents_llm[1]}
    return tuple(
        system_spec(n, seed=seed, cache_dir=out / "cache", **llm_options, **_options(n, policy))
        for n in names
    )


def _print_results(results: dict[str, Any], out: Path) -> None:
    """The main table on stdout (wide enough when piped), then the learned router's comparison."""
    stdout = Console()
    if not stdout.is_terminal:
        stdout = Console(width=max(stdout.width, 130))
    stdout.print(main_table(results))
    if "policy_comparison" in results:
        stdout.print(_append_comparison(results["policy_comparison"], out / "report.md"))


def _append_comparison(comparison: dict[str, Any], report: Path) -> str:
    """The learned router's comparison as markdown, appended to the report."""
    text = comparison_markdown(comparison)
    with report.open("a", encoding="utf-8") as fh:
        fh.write("\n" + text)
    return text


def _with_learned(systems: Sequence[str], policy: Path) -> list[str]:
    """``systems`` with ``hypermnesia`` and ``hypermnesia-learned`` (a missing file is an error)."""
    if not Path(policy).is_file():
        raise InvalidInputError(f"missing policy file: {policy}")
    names = list(systems)
    if "hypermnesia" not in names:
        names.insert(0, "hypermnesia")
    if LEARNED not in names:
        names.insert(names.index("hypermnesia") + 1, LEARNED)
    return names


def _options(name: str, policy: Path | None) -> dict[str, Any]:
    return {"policy": str(policy)} if name == LEARNED and policy is not None else {}


def _available(systems: Sequence[str], console: Console) -> tuple[list[str], dict[str, str]]:
    """The systems to evaluate, and why each known-but-unbuildable one is left out."""
    known = known_systems()
    unknown = [s for s in systems if s not in known]
    if unknown:
        raise InvalidInputError(
            f"unknown system(s) {', '.join(unknown)}: use some of {', '.join(known)}"
        )
    unavailable: dict[str, str] = {}
    for name in dict.fromkeys(systems):
        reason = unavailable_reason(name)
        if reason is not None:
            unavailable[name] = reason
            console.print(f"[yellow]{name}: unavailable, not evaluated: {escape(reason)}[/yellow]")
    names = [s for s in dict.fromkeys(systems) if s not in unavailable]
    if not names:
        raise InvalidInputError("none of the requested systems is available")
    return names, unavailable


def _run_with_progress(loaded: Dataset, config: RunConfig, console: Console) -> RunOutcome:
    n_turns = sum(len(c.turns) for c in loaded.conversations)
    n_systems = len(config.systems)
    with _progress(console) as bar:
        tasks = {
            "ingest": bar.add_task("ingest", total=n_turns * n_systems),
            "retrieve": bar.add_task("retrieve", total=len(loaded.questions) * n_systems),
        }
        if config.answers is not None:
            tasks["answer"] = bar.add_task("answer", total=len(loaded.questions) * n_systems)
        return run(loaded, config, lambda phase, n: bar.advance(tasks[phase], n))


def cli_eval(
    dataset: str,
    data: str,
    out: str,
    systems: str,
    workers: int,
    fresh: bool,
    budgets: str,
    limit_conversations: int | None,
    seed: int,
    llm: str | None = None,
    api_base: str | None = None,
    policy: Path | None = None,
) -> None:
    """``app.py eval``: run :func:`run_eval`, print errors as one clear line and exit 1 on them.

    With ``llm`` (``--llm provider/model``) the agents run in LLM mode on it and it answers;
    answers are also scored when ``HYPERMNESIA_LLM_MODEL`` is set (agents stay deterministic).
    ``HYPERMNESIA_EVAL_JUDGE_MODEL`` names a different judge (the answering model judges
    otherwise).
    """
    console = Console(stderr=True)
    try:
        settings = Settings()
        model = llm or settings.llm_model
        base = api_base or settings.llm_api_base
        answers = None
        if model:
            answers = AnswerConfig(
                model=model,
                judge_model=os.environ.get("HYPERMNESIA_EVAL_JUDGE_MODEL") or None,
                api_base=base,
                api_key=settings.llm_api_key,
            )
        run_eval(
            dataset=dataset,
            data=data,
            out=Path(out),
            systems=[s.strip() for s in systems.split(",") if s.strip()],
            workers=workers,
            fresh=fresh,
            budgets=budgets,
            limit_conversations=limit_conversations,
            seed=seed,
            console=console,
            answers=answers,
            agents_llm=(llm, base) if llm else None,
            policy=policy,
        )
    except HypermnesiaError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise SystemExit(1) from None
