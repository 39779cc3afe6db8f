"""The options and arguments several commands share, declared once so their names, defaults and
help read the same everywhere."""

from __future__ import annotations

import typer

from memory.errors import InvalidInputError


def _nonblank_question(value: str) -> str:
    """Checked while the arguments are parsed, so a blank question opens no data folder."""
    if not value.strip():
        raise InvalidInputError("question is empty")
    return value


USER = typer.Option(..., "--user", "-u", help="User id of the namespace.")
AGENT = typer.Option("default", "--agent", "-a", help="Agent id of the namespace.")
JSON = typer.Option(False, "--json", help="Print JSON instead of tables.")
DATA_DIR = typer.Option(
    None, "--data-dir", help="Data folder (default: HYPERMNESIA_DATA_DIR or .hypermnesia)."
)
DEMO_DIR = typer.Option(
    None, "--data-dir", help="Where to keep the demo's memory (default: a fresh temp folder)."
)
FILE = typer.Argument(..., help="A conversation JSON file (Hypermnesia's or LoCoMo's).")
QUESTION = typer.Argument(
    ..., help="The question to find evidence for.", callback=_nonblank_question
)
UNIT_IDS = typer.Argument(..., help="Unit ids (from recall, history or traces).")
UNIT_ID = typer.Argument(..., help="A unit id (from recall, history or traces).")

# -- evaluation and benchmarks -------------------------------------------------------------------

BENCH_JSON = typer.Option(False, "--json", help="End with one JSON object.")
EVAL_DATA = typer.Option(..., help="A benchmark file, a URL, or 'download' (public LoCoMo).")
DATASET = typer.Option("locomo", help="locomo or longmemeval.")
WORKERS = typer.Option(2, help="Worker processes (one conversation per task).")
LIMIT = typer.Option(None, help="Only the first N conversations.")
