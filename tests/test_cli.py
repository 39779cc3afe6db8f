"""The command line through typer's CliRunner, plus real subprocess runs of `chat` and `demo`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "evals" / "samples" / "demo_conversation.json"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    values = {
        "HYPERMNESIA_DATA_DIR": str(tmp_path / "data"),
        "HYPERMNESIA_EMBEDDER": "fake",
        "COLUMNS": "200",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HYPERMNESIA_LLM_MODEL", raising=False)
    return values


@pytest.fixture
def cli(env: dict[str, str]) -> Any:
    runner = CliRunner()

    def run(*args: str, input: str | None = None, code: int = 0) -> Any:
        result = runner.invoke(app, list(args), input=input)
        assert result.exit_code == code, (result.output, result.exception)
        return result

    return run


@pytest.fixture
def ingested(cli: Any) -> Any:
    cli("ingest", str(SAMPLE), "--user", "sam")
    return cli


def _recall(cli: Any, question: str, user: str = "sam") -> dict[str, Any]:
    result: dict[str, Any] = json.loads(cli("recall", question, "--user", user, "--json").stdout)
    return result


def test_ingest_prints_decisions_and_run_ids(cli: Any) -> None:
    result = cli("ingest", str(SAMPLE), "--user", "sam", "--json")
    (report,) = json.loads(result.stdout)
    assert report["namespace"] == "sam/default"
    assert report["turns"] == 19
    assert len(report["run_ids"]) == 4 and all(r.startswith("run-") for r in report["run_ids"])
    assert report["decisions"].get("new", 0) > 0
    table = cli("ingest", str(SAMPLE), "--user", "sam").stdout
    assert "S1" in table and "S4" in table and "total" in table
    assert report["run_ids"][0] not in table  # a second ingest is a new run


def test_malformed_file_is_rejected_whole(cli: Any, tmp_path: Path) -> None:
    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    del data["sessions"][3]["turns"][2]["text"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    result = cli("ingest", str(bad), "--user", "sam", code=1)
    assert "bad.json" in result.output and "session S4 turn 3 lacks 'text'" in result.output
    assert json.loads(cli("traces", "list", "--json").stdout) == []
    cli("ingest", str(tmp_path / "none.json"), "--user", "sam", code=1)


def _locomo(tmp_path: Path) -> Path:
    def item(sample_id: str) -> dict[str, Any]:
        return {
            "sample_id": sample_id,
            "conversation": {
                "speaker_a": "Ann",
                "speaker_b": "Bo",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Ann", "dia_id": "D1:1", "text": f"I keep bees ({sample_id})."},
                    {"speaker": "Bo", "dia_id": "D1:2", "text": "How many hives?"},
                ],
            },
            "qa": [],
            "observation": {"session_1_observation": "SECRET"},
        }

    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([item("conv-a"), item("conv-b")]), encoding="utf-8")
    return path


def test_ingest_locomo_conversations(cli: Any, tmp_path: Path) -> None:
    path = _locomo(tmp_path)
    result = cli("ingest", str(path), "--user", "x", code=1)
    assert "--conversation" in result.output
    (report,) = json.loads(cli("ingest", str(path), "-c", "conv-b", "--json").stdout)
    assert report["namespace"] == "conv-b/default" and report["turns"] == 2
    cli("ingest", str(path), "-c", "conv-z", code=1)
    reports = json.loads(cli("ingest", str(path), "--json").stdout)
    assert [r["namespace"] for r in reports] == ["conv-a/default", "conv-b/default"]
    evidence = _recall(cli, "bees", user="conv-a")["evidence"]
    assert any("conv-a" in e["text"] for e in evidence)
    assert not any("conv-b" in e["text"] or "SECRET" in e["text"] for e in evidence)


def test_recall_table_and_json(ingested: Any) -> None:
    result = _recall(ingested, "Where does Sam live now?")
    assert result["run_id"].startswith("run-") and result["evidence"]
    assert any("Denver" in e["text"] for e in result["evidence"])
    table = ingested("recall", "Where does Sam live now?", "--user", "sam", "--budget", "300")
    assert "verdict" in table.stdout and "/300" in table.stdout and "Denver" in table.stdout


def test_bad_namespace_and_budget(cli: Any) -> None:
    result = cli("recall", "anything", "--user", "not a user", code=1)
    assert "invalid namespace part 'not a user'" in result.output
    cli("recall", "anything", "--user", "sam", "--budget", "0", code=2)


def test_global_data_dir_option(cli: Any, tmp_path: Path) -> None:
    other = tmp_path / "other"
    cli("--data-dir", str(other), "ingest", str(SAMPLE), "--user", "sam")
    assert other.is_dir()
    assert json.loads(cli("traces", "list", "--json").stdout) == []
    runs = json.loads(cli("--data-dir", str(other), "traces", "list", "--json").stdout)
    assert len(runs) == 4


def test_history_shows_events_and_units(ingested: Any) -> None:
    evidence = _recall(ingested, "Where does Sam live now?")["evidence"]
    unit = evidence[0]["unit_id"]
    data = json.loads(ingested("history", unit, "--user", "sam", "--json").stdout)
    assert data["events"] and unit in {u["id"] for u in data["units"]}
    assert all(e["op"] for e in data["events"])
    table = ingested("history", unit, "--user", "sam").stdout
    assert "History of" in table and data["events"][0]["op"] in table
    missing = ingested("history", "u" + "0" * 32, "--user", "sam", code=1)
    assert "no history" in missing.output


def test_history_of_superseded_fact(ingested: Any, env: dict[str, str]) -> None:
    from graphs.client import Hypermnesia
    from memory.model import Namespace

    with Hypermnesia.open(env["HYPERMNESIA_DATA_DIR"]) as hm:
        closed = [u for u in hm.store.units(Namespace(user_id="sam")) if not u.is_current]
    boston = next(u for u in closed if "Boston" in u.text)
    data = json.loads(ingested("history", boston.id, "--user", "sam", "--json").stdout)
    supersede = [e for e in data["events"] if e["op"] == "supersede"]
    assert supersede and boston.id in supersede[0]["unit_ids"]
    units = {u["id"]: u for u in data["units"]}
    assert units[boston.id]["valid_to"] is not None
    assert "Denver" in units[units[boston.id]["superseded_by"]]["text"]
    table = ingested("history", boston.id, "--user", "sam").stdout
    assert "supersede" in table and "(closed)" in table and "Denver" in table


def test_forget_asks_then_cascades(ingested: Any, env: dict[str, str]) -> None:
    from graphs.client import Hypermnesia
    from memory.model import Granularity, Namespace

    with Hypermnesia.open(env["HYPERMNESIA_DATA_DIR"]) as hm:
        units = hm.store.units(Namespace(user_id="sam"))
    turn = next(u for u in units if u.granularity == Granularity.TURN and "peanuts" in u.text)
    assert "allergic" in turn.text
    declined = ingested("forget", turn.id, "--user", "sam", input="n\n", code=1)
    assert turn.id[:12] in declined.output and "raw turns deleted too" in declined.output
    assert "nothing deleted" in declined.output
    still = _recall(ingested, "peanuts allergy")["evidence"]
    assert any(set(e["provenance"]) & set(turn.provenance) for e in still)
    done = ingested("forget", turn.id, "--user", "sam", "--yes", "--json")
    report = json.loads(done.stdout)
    assert turn.id in report["deleted"] and set(turn.provenance) <= set(report["turns_deleted"])
    after = _recall(ingested, "peanuts allergy")["evidence"]
    assert not any(set(e["provenance"]) & set(report["turns_deleted"]) for e in after)
    assert not any("allergic to peanuts" in e["text"] for e in after)
    ingested("forget", turn.id, "--user", "sam", "--yes", code=1)


def test_traces_list_and_show(ingested: Any) -> None:
    run_id = _recall(ingested, "When did Sam adopt Biscuit?")["run_id"]
    runs = json.loads(ingested("traces", "list", "--user", "sam", "--json").stdout)
    assert runs[0]["run_id"] == run_id and len(runs) == 5
    assert json.loads(ingested("traces", "list", "--user", "nobody", "--json").stdout) == []
    shown = json.loads(ingested("traces", "show", run_id, "--json").stdout)
    assert shown["run_id"] == run_id and shown["steps"]
    tree = ingested("traces", "show", run_id).stdout
    assert run_id in tree and shown["steps"][0]["agent"] in tree and "→" in tree
    listed = ingested("traces", "list", "--limit", "2").stdout
    assert run_id in listed
    ingested("traces", "show", "run-nope", code=1)


def test_reflect_shows_proposals_decisions_and_run(ingested: Any, env: dict[str, str]) -> None:
    from graphs import Hypermnesia
    from memory.model import Namespace, UnitKind

    result = json.loads(ingested("reflect", "--user", "sam", "--json").stdout)
    assert result["run_id"].startswith("run-") and result["reflected"]
    proposals = result["decisions"]
    assert proposals and {d["granularity"] for d in proposals} <= {"insight", "persona"}
    assert any(d["decision"] == "new" for d in proposals)
    ns = Namespace(user_id="sam")
    with Hypermnesia.open(env["HYPERMNESIA_DATA_DIR"]) as hm:
        stored = hm.store.get(ns, [d["unit_id"] for d in proposals])
        sources = hm.store.get(ns, [i for u in stored for i in u.derived_from])
    assert stored and all(u.kind == UnitKind.INFERENCE and u.derived_from for u in stored)
    assert {i for u in stored for i in u.derived_from} == {u.id for u in sources}
    assert all(u.kind == UnitKind.EVIDENCE for u in sources)
    run = json.loads(ingested("traces", "show", result["run_id"], "--json").stdout)
    assert any(step["agent"] == "reflector" for step in run["steps"])
    table = ingested("reflect", "--user", "sam").stdout
    assert "Reflections proposed in sam/default" in table and "judge: skip" in table
    assert proposals[0]["unit_id"] in table and "from fact (evidence)" in table
    assert f"{len(proposals)} proposal(s): {len(proposals)} skip" in table and "run run-" in table


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["recall", "q", "--user", "not a user"], "invalid namespace part 'not a user'"),
        (["reflect", "--user", "not a user"], "invalid namespace part 'not a user'"),
        (["chat", "--user", "not a user"], "invalid namespace part 'not a user'"),
        (["traces", "list", "--user", "not a user"], "invalid namespace part 'not a user'"),
        (["traces", "show", "run-nope"], "no trace run 'run-nope'"),
        (["forget", "u" + "0" * 32, "--user", "sam", "--yes"], "no unit 'u000"),
        (["ingest", "{missing}", "--user", "sam"], "missing file: {missing}"),
        (["ablation", "--data", "{missing}", "--out", "{out}"], "missing file: {missing}"),
        (["bench", "graph", "--data", "{missing}", "--questions", "10"], "missing file: {missing}"),
        (["import", "{missing}", "--user", "sam"], "missing file: {missing}"),
        (["export", "--user", "not a user"], "invalid namespace part 'not a user'"),
        (["recall", " ", "--user", "sam"], "question is empty"),
        (["ingest", str(SAMPLE), "--user", ""], "invalid namespace part ''"),
        (
            ["--data-dir", "{file}/data", "recall", "q", "--user", "sam"],
            "cannot create data folder",
        ),
    ],
)
def test_project_errors_from_any_command_are_one_red_line_and_status_1(
    cli: Any, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    paths = {
        "missing": str(tmp_path / "missing.json"),
        "out": str(tmp_path / "out"),
        "file": str(tmp_path / "file"),
    }
    result = cli(*[a.format(**paths) for a in args], code=1)
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and message.format(**paths) in errors[0], result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_bad_input_creates_no_data_folder(cli: Any, env: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n", encoding="utf-8")
    cli("recall", "  ", "--user", "sam", code=1)
    cli("ingest", str(bad), "--user", "sam", code=1)
    cli("import", str(bad), "--user", "sam", code=1)
    cli("export", "--user", "-sam", code=1)
    assert not Path(env["HYPERMNESIA_DATA_DIR"]).exists()


def test_export_then_import_restores_the_namespace(ingested: Any, tmp_path: Path) -> None:
    exported = ingested("export", "--user", "sam").stdout
    units = [json.loads(line) for line in exported.splitlines()]
    assert units and all(u["namespace"] == {"user_id": "sam", "agent_id": "default"} for u in units)
    assert any(u["valid_to"] for u in units) and any(not u["valid_to"] for u in units)
    backup = tmp_path / "sam.jsonl"
    backup.write_text(exported, encoding="utf-8")
    copy = ["--data-dir", str(tmp_path / "copy")]
    done = ingested(*copy, "import", str(backup), "--user", "sam")
    assert f"imported {len(units)} unit(s) and 19 raw turn(s) into sam/default" in done.output
    assert ingested(*copy, "export", "--user", "sam").stdout == exported
    piped = ["--data-dir", str(tmp_path / "piped")]
    ingested(*piped, "import", "-", "--user", "sam", input=exported)
    assert ingested(*piped, "export", "--user", "sam").stdout == exported
    question = ["recall", "Where does Sam live now?", "--user", "sam", "--json"]
    restored = json.loads(ingested(*copy, *question).stdout)["evidence"]
    assert [e["unit_id"] for e in restored] == [
        e["unit_id"] for e in json.loads(ingested(*question).stdout)["evidence"]
    ]
    refused = ingested(*copy, "import", str(backup), "--user", "sam", code=1)
    assert "error: namespace sam/default is not empty" in refused.output
    assert ingested(*copy, "export", "--user", "sam").stdout == exported
    wrong = ingested(*copy, "import", str(backup), "--user", "bob", code=1)
    assert (
        f"{backup} line 1: unit {units[0]['id']} belongs to namespace sam/default" in wrong.output
    )
    assert ingested(*copy, "export", "--user", "bob").stdout == ""


def test_demo_exits_1_when_a_claim_does_not_hold(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from graphs.cli import demo

    data = json.loads(SAMPLE.read_text(encoding="utf-8"))
    for session in data["sessions"]:
        session["turns"] = [t for t in session["turns"] if "Denver" not in t["text"]]
    data["sessions"] = [s for s in data["sessions"] if s["turns"]]
    sample = tmp_path / "no_denver.json"
    sample.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(demo, "DEMO_FILE", sample)
    result = cli("demo", "--data-dir", str(tmp_path / "demo"), code=1)
    assert "✗ Sam lives in Denver now" in result.output
    assert "no evidence names Denver" in result.output
    assert "✓ 'yesterday' on 8 May 2023 resolves to 7 May 2023" in result.output
    assert "demo claim(s) did not hold" in result.output


def test_chat_from_piped_stdin(cli: Any) -> None:
    lines = "I adopted a cat named Miso.\n\nWhat is my cat called?\n/quit\nnever read\n"
    result = cli("chat", "--user", "kim", input=lines)
    assert "no LLM configured" in result.stdout
    assert result.stdout.count("Miso") >= 1 and "2 exchange(s)" in result.stdout
    evidence = _recall(cli, "cat called", user="kim")["evidence"]
    assert any("What is my cat called?" in e["text"] for e in evidence)
    assert not any("never read" in e["text"] for e in evidence)


def _answering_llm(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every CLI-opened engine gets a scripted LLM: it answers the answer prompt from the
    evidence it is sent and returns unparsable text to every other prompt (a loud fallback)."""
    from graphs.client import Hypermnesia
    from memory.fake_llm import ScriptedLLM
    from prompts.answer import AnswerOut

    def reply(messages: list[dict[str, str]], schema: type[Any]) -> Any:
        if schema is AnswerOut:
            evidence = messages[-1]["content"]
            return AnswerOut(answer="Miso" if "Miso" in evidence else "not mentioned")
        return "this is not JSON"

    llm = ScriptedLLM([reply] * 200)
    real_open = Hypermnesia.open.__func__  # type: ignore[attr-defined]

    def open_with_llm(cls: type[Hypermnesia], *args: Any, **kwargs: Any) -> Hypermnesia:
        return real_open(cls, *args, **{**kwargs, "llm": llm})  # type: ignore[no-any-return]

    monkeypatch.setattr(Hypermnesia, "open", classmethod(open_with_llm))
    return llm


def test_chat_answers_with_an_llm_and_traces_show_the_fallbacks(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = _answering_llm(monkeypatch)
    result = cli("chat", "--user", "kim", input="My cat is called Miso.\nWhat is my cat called?\n")
    assert "assistant> Miso" in result.stdout and "no LLM configured" not in result.stdout
    assert any(c.prompt.name == "answer.respond" for c in llm.calls)
    evidence = _recall(cli, "cat called Miso", user="kim")["evidence"]
    assert any(e["text"].endswith("assistant: Miso") for e in evidence), evidence
    runs = json.loads(cli("traces", "list", "--user", "kim", "--json").stdout)
    write = next(r for r in runs if r["graph"] == "write")
    tree = cli("traces", "show", write["run_id"]).stdout
    assert "FALLBACK" in tree and "LLM constructor." in tree and "failed" in tree
    assert "fell back to the deterministic agents" in tree


def _subprocess_env(env: dict[str, str] | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("HYPERMNESIA_")}
    base.update(LITELLM_LOCAL_MODEL_COST_MAP="True", HF_HUB_OFFLINE="1", COLUMNS="160")
    base.update(env or {})
    return base


@pytest.mark.slow
def test_chat_subprocess_with_piped_stdin(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "app.py", "chat", "--user", "lee"],
        input="My bike is a red Bianchi.\nWhat colour is my bike?\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_subprocess_env(env),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Bianchi" in proc.stdout and "2 exchange(s)" in proc.stdout


@pytest.mark.slow
def test_demo_subprocess_with_the_default_embedder(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "app.py", "demo", "--data-dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_subprocess_env(None),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "4/4 claims held" in out
    assert "Denver" in out and "Boston" in out and "2023-05-07" in out and "Flour" in out
    assert "4 · The reflector" in out and "insight u" in out and "from fact (evidence)" in out
    assert "kind=inference" in out and "4. reflection: run-" in out
    assert "traces show run-" in out


def test_ingest_with_the_llm_down_warns_per_session_where_the_user_looks(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every LLM step falls back when nothing listens at the model's address; each session's
    write says so on stderr (count and reason), and the JSON report counts them."""
    from tests.chroma_server import free_port

    monkeypatch.setenv("HYPERMNESIA_LLM_MODEL", "openai/nothing-here")
    monkeypatch.setenv("HYPERMNESIA_LLM_API_BASE", f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("HYPERMNESIA_LLM_API_KEY", "unused")
    monkeypatch.setenv("HYPERMNESIA_LLM_MAX_RETRIES", "0")
    sample = json.loads(SAMPLE.read_text())
    first = {**sample, "sessions": sample["sessions"][:2]}
    path = tmp_path / "two_sessions.json"
    path.write_text(json.dumps(first))
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "ingest", str(path), "--user", "sam", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, done.stderr  # one per session
    assert all("fell back to the deterministic agent" in w for w in warnings)
    assert all("constructor:" in w for w in warnings)  # the step that fell back, with its reason
    (report,) = json.loads(done.stdout)
    assert report["llm_fallbacks"] >= 2 and report["decisions"]["new"] > 0


def test_ingest_without_an_llm_prints_no_warning(cli: Any) -> None:
    assert "warning:" not in cli("ingest", str(SAMPLE), "--user", "sam").stderr
