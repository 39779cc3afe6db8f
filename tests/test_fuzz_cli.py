"""Fuzzing the command line with bad arguments and files.

Each invocation exits with status 1 and one red line naming the problem (status 2 and typer's
usage message for arguments typer rejects itself), never a traceback; the data folder is left as
it was, or is not created at all.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from app import app

from .fuzz_strategies import (
    FUZZ,
    ID_PART,
    blank,
    broken_export,
    broken_locomo,
    broken_native,
    words,
)

SAMPLE = Path(__file__).resolve().parent.parent / "evals" / "samples" / "demo_conversation.json"
ENV = {
    "HYPERMNESIA_EMBEDDER": "fake",
    "HYPERMNESIA_LLM_MODEL": None,
    "HYPERMNESIA_DATA_DIR": None,
    "COLUMNS": "200",
}

Invocation = tuple[list[str], bytes | None, str, int]
"""Arguments (``{file}`` stands for a file holding the bytes), the bytes, the fragment the error
must contain, and the exit status."""


def run(args: list[str], stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(app, args, input=stdin, env=ENV)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A data folder holding the sample conversation as user sam, and its export."""
    root = tmp_path_factory.mktemp("cli") / "data"
    assert run(["--data-dir", str(root), "ingest", str(SAMPLE), "--user", "sam"]).exit_code == 0
    exported = run(["--data-dir", str(root), "export", "--user", "sam"])
    assert exported.exit_code == 0
    return root, exported.stdout.splitlines()


def state(root: Path) -> list[Any]:
    """What any write would change: journal operations, turns and access counts, hypergraph
    edges and vertices, trace runs (read without opening the engine)."""
    queries = {
        "journal.sqlite3": [
            "SELECT COUNT(*), COALESCE(MAX(op_id), 0) FROM ops",
            "SELECT COUNT(*) FROM turns",
            "SELECT COUNT(*), COALESCE(SUM(count), 0) FROM access",
        ],
        "hypergraph.sqlite3": ["SELECT COUNT(*) FROM edges", "SELECT COUNT(*) FROM vertices"],
        "traces.sqlite3": ["SELECT COUNT(*) FROM runs"],
    }
    found: list[Any] = []
    for name, sqls in queries.items():
        db = sqlite3.connect(f"file:{root / name}?mode=ro", uri=True)
        try:
            found += [db.execute(sql).fetchall() for sql in sqls]
        finally:
            db.close()
    return found


bad_ns = st.one_of(words, st.sampled_from(["sam\n", "-sam", "", "x" * 129, "a b", "s\u0661m"]))
bad_ns = bad_ns.filter(lambda v: not ID_PART.fullmatch(v))
unit_ids = st.from_regex(r"u[0-9a-f]{32}", fullmatch=True)


@st.composite
def before_opening(draw: st.DrawFn, export: list[str]) -> Invocation:
    """Bad input the command line rejects before it opens a data folder."""
    choice = draw(st.sampled_from(["file", "ns", "question", "import", "foreign", "usage"]))
    if choice == "file":
        content, fragment = draw(st.one_of(broken_native(), broken_locomo()))
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        return ["ingest", "{file}", "--user", "sam2"], raw, fragment, 1
    if choice == "ns":
        option = draw(st.sampled_from(["--user", "--agent"]))
        command = draw(
            st.sampled_from(
                [["ingest", str(SAMPLE)], ["recall", "q"], ["export"], ["history", "u1"]]
            )
        )
        user = ["--user", "sam"] if option == "--agent" else []
        value = draw(bad_ns)
        fragment = f"invalid namespace part {repr(value)[:30]}"
        return [*command, *user, f"{option}={value}"], None, fragment, 1
    if choice == "question":
        return ["recall", draw(blank), "--user", "sam"], None, "question is empty", 1
    if choice == "import":
        raw, fragment = draw(broken_export(export))
        return ["import", "{file}", "--user", "sam"], raw, fragment, 1
    if choice == "foreign":
        raw = "".join(f"{line}\n" for line in export).encode()
        return ["import", "-", "--user", "bob"], raw, "belongs to namespace sam/default", 1
    usage = draw(
        st.sampled_from(
            [
                ["recall", "q", "--user", "sam", "--budget", "0"],
                ["recall", "q", "--user", "sam", "--bogus"],
                ["import", "--user", "sam"],
                ["forget", "--yes"],
                ["export"],
            ]
        )
    )
    return usage, None, "Usage:", 2


@st.composite
def after_opening(draw: st.DrawFn, export: list[str]) -> Invocation:
    """Bad input found only in the data folder: unknown ids and runs, a namespace that holds
    memory already."""
    choice = draw(st.sampled_from(["history", "forget", "trace", "full"]))
    if choice == "history":
        unit = draw(unit_ids)
        return ["history", unit, "--user", "sam"], None, f"no history for unit {unit!r}", 1
    if choice == "forget":
        units = draw(st.lists(unit_ids, min_size=1, max_size=3))
        return ["forget", *units, "--user", "sam", "--yes"], None, f"no unit {units[0]!r}", 1
    if choice == "trace":
        run_id = draw(st.from_regex(r"run-[0-9a-z]{1,12}", fullmatch=True))
        return ["traces", "show", run_id], None, f"no trace run {run_id!r}", 1
    raw = "".join(f"{line}\n" for line in export).encode()
    return ["import", "-", "--user", "sam"], raw, "namespace sam/default is not empty", 1


def check(result: Result, fragment: str, code: int) -> None:
    """Status ``code``, no traceback; status 1 with exactly one line on stderr, the error."""
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    if code == 2:
        assert fragment in result.output
        return
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], (fragment, lines[0])


#: Each example runs the command line, some open the engine: shrinking a failure would take
#: minutes, so a failure is reported as found.
CLI_FUZZ = settings(FUZZ, phases=(Phase.explicit, Phase.reuse, Phase.generate))


def invoke(case: Invocation, tmp: Path, data: Path) -> Result:
    args, raw, _, _ = case
    path = tmp / "input.bin"
    path.write_bytes(raw or b"")
    args = [a.replace("{file}", str(path)) for a in args]
    return run(["--data-dir", str(data), *args], raw if "-" in args else None)


@settings(CLI_FUZZ, max_examples=30)
@given(st.data())
def test_bad_input_is_one_red_line_and_creates_no_data_folder(
    populated: tuple[Path, list[str]], tmp_path: Path, data: st.DataObject
) -> None:
    case = data.draw(before_opening(populated[1]))
    fresh = tmp_path / f"fresh-{data.draw(st.integers(0, 10**9))}"
    check(invoke(case, tmp_path, fresh), case[2], case[3])
    assert not fresh.exists()


@settings(CLI_FUZZ, max_examples=15)
@given(st.data())
def test_bad_input_is_one_red_line_and_leaves_the_data_folder_as_it_was(
    populated: tuple[Path, list[str]], tmp_path: Path, data: st.DataObject
) -> None:
    root, export = populated
    case = data.draw(st.one_of(before_opening(export), after_opening(export)))
    before = state(root)
    check(invoke(case, tmp_path, root), case[2], case[3])
    assert state(root) == before
    assert run(["--data-dir", str(root), "export", "--user", "sam"]).stdout.splitlines() == export


def test_a_data_folder_inside_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder", encoding="utf-8")
    for args in (["recall", "q", "--user", "sam"], ["export", "--user", "sam"]):
        result = run(["--data-dir", str(tmp_path / "file" / "data"), *args])
        check(result, f"cannot create data folder {tmp_path / 'file' / 'data'}: Not a directory", 1)
