"""Results of a run: ``results.json``, ``questions.jsonl``, ``report.md`` and PNG plots."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from rich.table import Table

from evals.loaders import Dataset
from evals.metrics import mean, mean_by_category, percentile
from evals.runner import IngestRecord, QuestionRecord, RunConfig, RunOutcome

__all__ = [
    "METHOD_NOTES",
    "main_table",
    "plot_recall_by_category",
    "plot_recall_vs_budget",
    "render_markdown",
    "summarize",
    "write_outputs",
]

METHOD_NOTES = {
    "packing": (
        "Each system returns a ranked list of items; the harness counts every item's tokens "
        "(cl100k, on the text as the system presents it) and packs the list into each budget in "
        "rank order. An item that would overflow the budget is skipped; later, smaller items may "
        "still fit. Every system is asked once per question and budget."
    ),
    "recall": (
        "Evidence recall: share of the question's gold turns covered by the source turns of the "
        "packed items (turn-level, mapped through provenance)."
    ),
    "hit": "Hit at a budget: 1 when at least one gold turn is covered by the packed items.",
    "ranking": (
        "NDCG@10 and MRR: binary relevance over the distinct source turns of the whole list "
        "returned at the largest budget, in rank order (a turn counts at its first occurrence)."
    ),
    "overall": (
        "'overall' is the mean over questions of the categories that count towards it "
        "(LoCoMo: categories 1-4; adversarial questions are reported on their own)."
    ),
    "tokens_per_query": (
        "Tokens per query: mean tokens packed at the largest budget. Turns covered per query: "
        "mean number of distinct source turns the packed items map to (finer units such as "
        "facts cover more turns per token than whole turns)."
    ),
    "latency": (
        "Latency: wall time of one retrieve call in the worker process, over every call "
        "(one per question and budget)."
    ),
    "honesty": (
        "Systems see only turns, speakers, session dates and image captions, and questions "
        "without their gold evidence, answer or category."
    ),
}


def _by_system(records: list[QuestionRecord]) -> dict[str, list[QuestionRecord]]:
    grouped: dict[str, list[QuestionRecord]] = defaultdict(list)
    for record in records:
        grouped[record.system].append(record)
    return grouped


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _cats(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: _round(v) for k, v in values.items()}


def _ingest_summary(ingests: list[IngestRecord]) -> dict[str, Any]:
    turns = sum(i.stats.turns for i in ingests)
    calls = sum(i.stats.llm_calls for i in ingests)
    tokens = sum(i.stats.llm_tokens for i in ingests)
    return {
        "conversations": len(ingests),
        "reused": sum(i.reused for i in ingests),
        "turns": turns,
        "seconds": round(sum(i.stats.seconds for i in ingests), 3),
        "llm_calls": calls,
        "llm_tokens": tokens,
        "llm_calls_per_turn": round(calls / turns, 4) if turns else None,
        "llm_tokens_per_turn": round(tokens / turns, 2) if turns else None,
    }


def _system_summary(
    records: list[QuestionRecord],
    ingests: list[IngestRecord],
    dataset: Dataset,
    budgets: tuple[int, ...],
) -> dict[str, Any]:
    cats, overall = dataset.categories, dataset.overall_categories

    def per_cat(values: list[tuple[str, float]]) -> dict[str, float | None]:
        return _cats(mean_by_category(values, cats, overall))

    latencies = [ms for r in records for ms in r.latency_ms.values()]
    top = max(budgets)
    answered = [(r.category, r.answer) for r in records if r.answer is not None]
    answers: dict[str, Any] | None = None
    if answered:
        answers = {
            "f1": per_cat([(c, a.f1) for c, a in answered]),
            "bleu1": per_cat([(c, a.bleu1) for c, a in answered]),
            "judge": per_cat([(c, a.judge) for c, a in answered]),
            "answered": len(answered),
            "errors": sum(a.error is not None for _, a in answered),
            "llm_calls": sum(a.llm_calls for _, a in answered),
            "llm_tokens": sum(a.llm_tokens for _, a in answered),
        }

    def words(budget: int, all_found: bool) -> dict[str, float | None]:
        found = [(r.category, w) for r in records if (w := r.words.get(budget)) is not None]
        return per_cat([(c, float(w == 1.0) if all_found else w) for c, w in found])

    return {
        "recall": {str(b): per_cat([(r.category, r.recall[b]) for r in records]) for b in budgets},
        "answer_words": {str(b): words(b, False) for b in budgets},
        "answer_words_all": {str(b): words(b, True) for b in budgets},
        "hit": {str(b): per_cat([(r.category, r.hit[b]) for r in records]) for b in budgets},
        "ndcg@10": per_cat([(r.category, r.ndcg) for r in records]),
        "mrr": per_cat([(r.category, r.mrr) for r in records]),
        "tokens_per_query": _round(mean(r.tokens[top] for r in records), 1),
        "tokens_per_query_by_budget": {
            str(b): _round(mean(r.tokens[b] for r in records), 1) for b in budgets
        },
        "turns_covered_per_query": {
            str(b): _round(mean(r.covered[b] for r in records), 1) for b in budgets
        },
        "latency_ms": {
            "p50": _round(percentile(latencies, 50), 3),
            "p95": _round(percentile(latencies, 95), 3),
            "mean": _round(mean(latencies), 3),
        },
        "questions": len(records),
        "ingest": _ingest_summary(ingests),
        "answers": answers,
    }


def summarize(
    dataset: Dataset,
    outcome: RunOutcome,
    config: RunConfig,
    unavailable: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The content of ``results.json``."""
    records = _by_system(outcome.records)
    ingests: dict[str, list[IngestRecord]] = defaultdict(list)
    for ingest in outcome.ingests:
        ingests[ingest.system].append(ingest)
    return {
        "dataset": dataset.name,
        "source": dataset.source,
        "questions": len(dataset.questions),
        "skipped": len(dataset.skipped),
        "questions_in_file": len(dataset.questions) + len(dataset.skipped),
        "skipped_questions": [
            {"id": s.question.id, "category": s.question.category, "reason": s.reason}
            for s in dataset.skipped
        ],
        "evidence_repairs": dataset.evidence_repairs,
        "conversations": len(dataset.conversations),
        "turns": sum(len(c.turns) for c in dataset.conversations),
        "categories": list(dataset.categories),
        "overall_categories": sorted(dataset.overall_categories),
        "budgets": list(config.budgets),
        "seed": config.seed,
        "workers": config.workers,
        "wall_seconds": round(outcome.seconds, 2),
        "method": METHOD_NOTES,
        "systems": {
            spec.name: _system_summary(
                records.get(spec.name, []), ingests.get(spec.name, []), dataset, config.budgets
            )
            for spec in config.systems
        },
        "unavailable": dict(unavailable or {}),
        "answer_model": None
        if config.answers is None
        else {
            "model": config.answers.model,
            "judge_model": config.answers.judge_model or config.answers.model,
            "budget": config.answers.budget,
        },
    }


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _focus_budget(results: dict[str, Any]) -> str:
    budgets = [int(b) for b in results["budgets"]]
    return str(1000 if 1000 in budgets else min(budgets, key=lambda b: abs(b - 1000)))


def _main_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    budgets = [str(b) for b in results["budgets"]]
    focus = _focus_budget(results)
    header = ["system", *[f"R@{b}" for b in budgets], f"hit@{focus}", "NDCG@10", "MRR"]
    header += ["tokens/query", "p50 ms", "p95 ms"]
    judged = any(s.get("answers") for s in results["systems"].values())
    if judged:
        header.append("judge")
    rows = []
    for name, s in results["systems"].items():
        row = [name, *[_fmt(s["recall"][b]["overall"]) for b in budgets]]
        row += [_fmt(s["hit"][focus]["overall"]), _fmt(s["ndcg@10"]["overall"])]
        row += [_fmt(s["mrr"]["overall"]), _fmt(s["tokens_per_query"], 0)]
        row += [_fmt(s["latency_ms"]["p50"], 2), _fmt(s["latency_ms"]["p95"], 2)]
        if judged:
            row.append(_fmt(s["answers"]["judge"]["overall"]) if s.get("answers") else "–")
        rows.append(row)
    return header, rows


def main_table(results: dict[str, Any]) -> Table:
    """Overall recall at every budget and the ranking, cost and latency figures, per system."""
    header, rows = _main_rows(results)
    table = Table(
        title=f"{results['dataset']}: {results['questions']} questions "
        f"({results['skipped']} skipped), overall = {', '.join(results['overall_categories'])}"
    )
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _category_rows(results: dict[str, Any], metric: str, budget: str | None) -> list[list[str]]:
    cats = ["overall", *results["categories"]]
    rows = []
    for name, s in results["systems"].items():
        values = s[metric][budget] if budget is not None else s[metric]
        rows.append([name, *[_fmt(values.get(c)) for c in cats]])
    return rows


def render_markdown(results: dict[str, Any], plots: list[str]) -> str:
    """The Markdown report."""
    focus = _focus_budget(results)
    cats = ["overall", *results["categories"]]
    out = [f"# Evaluation on {results['dataset']}", ""]
    out.append(
        f"Data: `{results['source']}`: {results['conversations']} conversations, "
        f"{results['turns']} turns, {results['questions_in_file']} questions; "
        f"**{results['questions']} evaluated, {results['skipped']} skipped**. "
        f"Seed {results['seed']}, {results['workers']} worker(s), "
        f"wall time {results['wall_seconds']:.1f} s."
    )
    out += ["", "## Main table", "", _md_table(*_main_rows(results)), ""]
    out += [f"## Recall per category at {focus} tokens", ""]
    out += [_md_table(["system", *cats], _category_rows(results, "recall", focus)), ""]
    for budget in (b for b in results["budgets"] if str(b) != focus):
        out += [f"### Recall per category at {budget} tokens", ""]
        out += [_md_table(["system", *cats], _category_rows(results, "recall", str(budget))), ""]
    out += _answer_words_section(results, cats)
    for budget in results["budgets"]:
        out += [f"### Hit per category at {budget} tokens", ""]
        out += [_md_table(["system", *cats], _category_rows(results, "hit", str(budget))), ""]
    out += ["## NDCG@10 per category", ""]
    out += [_md_table(["system", *cats], _category_rows(results, "ndcg@10", None)), ""]
    out += ["## MRR per category", ""]
    out += [_md_table(["system", *cats], _category_rows(results, "mrr", None)), ""]
    out += _cost_sections(results)
    out += _answer_section(results)
    if results["unavailable"]:
        out += ["## Systems not run", ""]
        out += [f"- **{name}**: {why}" for name, why in results["unavailable"].items()]
        out.append("")
    out += _skipped_section(results)
    out += ["", "## Method", ""]
    out += [f"- {text}" for text in results["method"].values()]
    if plots:
        out += ["", "## Plots", ""]
        out += [f"![{p}]({p})" for p in plots]
    return "\n".join(out) + "\n"


def _answer_words_section(results: dict[str, Any], cats: list[str]) -> list[str]:
    """Provenance-free: the share of the gold answer's words in the packed text, per budget."""
    out = [
        "## Answer words found in the packed text",
        "",
        "The share of each gold answer's content words (stemmed, stopwords out) that the packed "
        "text contains, then the share of questions where all of them are there. Unlike evidence "
        "recall it looks at the text a reader gets, not at the turns it came from.",
        "",
    ]
    for budget in results["budgets"]:
        for key, label in (("answer_words", "words found"), ("answer_words_all", "all found")):
            out += [f"### Answer {label} at {budget} tokens", ""]
            out += [_md_table(["system", *cats], _category_rows(results, key, str(budget))), ""]
    return out


def _cost_sections(results: dict[str, Any]) -> list[str]:
    """Tokens and turns covered per query; what ingesting cost."""
    out = ["## Tokens and turns covered per query", ""]
    header = ["system"]
    header += [f"tokens@{b}" for b in results["budgets"]]
    header += [f"turns@{b}" for b in results["budgets"]]
    rows = [
        [
            name,
            *(_fmt(s["tokens_per_query_by_budget"][str(b)], 0) for b in results["budgets"]),
            *(_fmt(s["turns_covered_per_query"][str(b)], 1) for b in results["budgets"]),
        ]
        for name, s in results["systems"].items()
    ]
    out += [_md_table(header, rows), ""]
    out += ["## Ingest cost", ""]
    header = ["system", "conversations", "reused", "turns", "seconds", "LLM calls/turn"]
    header.append("LLM tokens/turn")
    keys = ("conversations", "reused", "turns", "seconds")
    rows = [
        [
            name,
            *(_fmt(s["ingest"][k]) for k in keys),
            _fmt(s["ingest"]["llm_calls_per_turn"]),
            _fmt(s["ingest"]["llm_tokens_per_turn"], 1),
        ]
        for name, s in results["systems"].items()
    ]
    return [*out, _md_table(header, rows), ""]


def _skipped_section(results: dict[str, Any]) -> list[str]:
    out = ["## Skipped questions", ""]
    if results["skipped_questions"]:
        out += [
            f"- `{s['id']}` ({s['category']}): {s['reason']}" for s in results["skipped_questions"]
        ]
    else:
        out.append("None.")
    out += ["", "Evidence repairs: "]
    repairs = results["evidence_repairs"]
    out[-1] += ", ".join(f"{k}: {v}" for k, v in repairs.items()) if repairs else "none."
    return out


def _answer_section(results: dict[str, Any]) -> list[str]:
    config = results.get("answer_model")
    if not config:
        return [
            "## Answer quality",
            "",
            "Not measured: no LLM configured (set HYPERMNESIA_LLM_MODEL to answer and judge).",
            "",
        ]
    cats = ["overall", *results["categories"]]
    out = [
        f"## Answer quality at {config['budget']} tokens",
        "",
        f"Answers by `{config['model']}`, judged by `{config['judge_model']}`. Unanswerable "
        "questions are scored as 'not mentioned'.",
        "",
    ]
    for metric, title in (("judge", "LLM-judge accuracy"), ("f1", "F1"), ("bleu1", "BLEU-1")):
        rows = [
            [name, *(_fmt(s["answers"][metric].get(c)) for c in cats)]
            for name, s in results["systems"].items()
            if s.get("answers")
        ]
        out += [f"### {title}", "", _md_table(["system", *cats], rows), ""]
    errors = {n: s["answers"]["errors"] for n, s in results["systems"].items() if s.get("answers")}
    if any(errors.values()):
        out += [f"Failed model calls (scored 0): {errors}", ""]
    return out


def plot_recall_vs_budget(results: dict[str, Any], path: Path) -> None:
    """One line per system: overall recall against the token budget."""
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    budgets = [int(b) for b in results["budgets"]]
    for name, s in results["systems"].items():
        ys = [s["recall"][str(b)]["overall"] for b in budgets]
        ax.plot(budgets, [float("nan") if y is None else y for y in ys], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.set_xlabel("token budget (cl100k)")
    ax.set_ylabel("evidence recall (overall)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{results['dataset']}: recall vs token budget")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_recall_by_category(results: dict[str, Any], path: Path) -> None:
    """Grouped bars: recall per category at the focus budget (1000 tokens), one bar per system."""
    focus = _focus_budget(results)
    cats = ["overall", *results["categories"]]
    systems = list(results["systems"])
    fig = Figure(figsize=(max(7.0, 1.3 * len(cats)), 4.5))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(systems))
    for i, name in enumerate(systems):
        values = results["systems"][name]["recall"][focus]
        ys = [values.get(c) or 0.0 for c in cats]
        xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(cats))]
        ax.bar(xs, ys, width=width, label=name)
    ax.set_xticks(range(len(cats)), cats, rotation=20)
    ax.set_ylabel(f"evidence recall at {focus} tokens")
    ax.set_ylim(0, 1)
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    ax.set_title(f"{results['dataset']}: recall per category at {focus} tokens")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def write_outputs(results: dict[str, Any], records: list[QuestionRecord], out: Path) -> list[Path]:
    """Write results.json, questions.jsonl, the plots and report.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "questions.jsonl"]
    written[0].write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    with written[1].open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(asdict(record)) + "\n")
    plots = ["recall_vs_budget.png", "recall_by_category.png"]
    plot_recall_vs_budget(results, out / plots[0])
    plot_recall_by_category(results, out / plots[1])
    (out / "report.md").write_text(render_markdown(results, plots), encoding="utf-8")
    return [*written, *(out / p for p in plots), out / "report.md"]
