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


HELP = (
    "Hypermnesia command line: ingest, recall, chat, forget, history, reflect, traces, export, "
    "import, demo, serve, mcp, bench, eval, poisoning."
)
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
INGEST_USER = typer.Option(None, "--user", "-u", help="User id (default: each conversation's id).")
CONVERSATION = typer.Option(
    None, "--conversation", "-c", help="Only this conversation of the file (e.g. conv-26)."
)

# -- the service ---------------------------------------------------------------------------------

HOST = typer.Option("127.0.0.1", help="Address to listen on (local mode: loopback only).")
PORT = typer.Option(8080, help="TCP port.")
SERVE_WORKERS = typer.Option(
    1, min=1, help="Worker processes; more than one runs a Chroma server on the data folder."
)

# -- evaluation and benchmarks -------------------------------------------------------------------

EVAL_DATA = typer.Option(..., help="A benchmark file, a URL, or 'download' (public LoCoMo).")
DATASET = typer.Option("locomo", help="locomo or longmemeval.")
SYSTEMS = typer.Option(
    "hypermnesia,full_context,bm25,dense,hybrid", help="Comma-separated systems to compare."
)
WORKERS = typer.Option(2, help="Worker processes (one conversation per task).")
LIMIT = typer.Option(None, help="Only the first N conversations.")
POLICY = typer.Option(
    None, "--policy", help="A trained router (POLICY.json): adds system hypermnesia-learned."
)
