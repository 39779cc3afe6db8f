"""The command table: commands call graphs.cli or evals; errors print one red line (exit 1)."""

from __future__ import annotations

from pathlib import Path

import typer

from evals.bench.cli import app as bench_app
from evals.poisoning import run_poisoning_cli
from evals.rerank_cli import train_reranker_command
from evals.rl.cli import app as rl_app
from evals.rl.cli import train_router_command
from graphs.cli import backup, chat, demo, forget, ingest, reflect, render, serve, traces
from graphs.cli import options as opt
from graphs.cli.engine import data_dir_of, engine_for, namespace
from graphs.cli.errors import HandledGroup

app = typer.Typer(cls=HandledGroup, no_args_is_help=True, add_completion=False, help=opt.HELP)
app.add_typer(bench_app, name="bench")
app.add_typer(rl_app, name="rl")
app.command("train-router")(train_router_command)
app.command("train-reranker")(train_reranker_command)
traces_app = typer.Typer(no_args_is_help=True, help="Inspect the recorded graph runs.")
app.add_typer(traces_app, name="traces")
traces_app.command("replay")(traces.replay_command)
traces_app.command("otel")(traces.otel_command)
app.command("export")(backup.export_command)
app.command("import")(backup.import_command)
app.command("poisoning")(run_poisoning_cli)


@app.callback()
def main(ctx: typer.Context, data_dir: Path | None = opt.DATA_DIR) -> None:
    """Long-term memory for chatbots and LLM agents."""
    ctx.obj = {"data_dir": data_dir}


@app.command("eval")
def eval_command(
    data: str = opt.EVAL_DATA,
    dataset: str = opt.DATASET,
    out: str = typer.Option("eval-out", help="Output folder (results, report, plots, work)."),
    systems: str = opt.SYSTEMS,
    workers: int = opt.WORKERS,
    fresh: bool = typer.Option(False, "--fresh", help="Ingest again instead of reusing work."),
    budgets: str = typer.Option("250,500,1000,2000", help="Comma-separated token budgets."),
    limit_conversations: int | None = opt.LIMIT,
    seed: int = typer.Option(0, help="Seed of every random choice."),
    llm: str | None = typer.Option(
        None, "--llm", help="provider/model: the agents run in LLM mode on it, and it answers."
    ),
    api_base: str | None = typer.Option(None, "--api-base", help="The LLM server's URL."),
    policy: Path | None = opt.POLICY,
) -> None:
    """Evaluate Hypermnesia beside the baselines; write results.json, report.md and plots."""
    from evals.cli import cli_eval

    cli_eval(
        dataset, data, out, systems, workers, fresh, budgets, limit_conversations, seed,
        llm=llm, api_base=api_base, policy=policy,
    )  # fmt: skip


@app.command("ablation")
def ablation_command(
    data: str = opt.EVAL_DATA,
    dataset: str = opt.DATASET,
    out: str = typer.Option("eval-out", help="Output folder; reuses an eval run's ingest."),
    recipes: str = typer.Option("", help="Comma-separated recipes (default: full, no-*, with-*)."),
    budget: int = typer.Option(1000, min=1, help="Token budget of the recall figures."),
    workers: int = opt.WORKERS,
    limit_conversations: int | None = opt.LIMIT,
) -> None:
    """Recall with each retrieval mechanism switched off, recipe by recipe."""
    from evals.ablation import ABLATIONS, run_ablation

    chosen = [r.strip() for r in recipes.split(",") if r.strip()] or ["full", *ABLATIONS]
    run_ablation(dataset, data, Path(out), chosen, budget, workers, limit_conversations)


@app.command("ingest")
def ingest_command(
    ctx: typer.Context,
    file: Path = opt.FILE,
    user: str | None = opt.INGEST_USER,
    agent: str = opt.AGENT,
    conversation: str | None = opt.CONVERSATION,
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Remember a conversation file session by session, with a progress bar over turns."""
    plan = ingest.load_plan(file, conversation, user, agent)
    with engine_for(ctx, data_dir) as hm:
        ingest.show_ingest(ingest.ingest(hm, plan), json_out=json_out)


@app.command()
def recall(
    ctx: typer.Context,
    question: str = opt.QUESTION,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    budget: int = typer.Option(1000, min=1, help="Token budget of the packed evidence."),
    max_iterations: int = typer.Option(3, min=1, help="Retrieve/judge rounds at most."),
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Evidence for a question, packed into a token budget, with the judge's verdict."""
    ns = namespace(user, agent)
    with engine_for(ctx, data_dir) as hm:
        result = hm.recall(ns, question, budget=budget, max_iterations=max_iterations)
    render.show_recall(result, budget, json_out=json_out)


@app.command("chat")
def chat_command(
    ctx: typer.Context,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    budget: int = typer.Option(800, min=1, help="Token budget of the evidence per message."),
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """Chat from stdin until EOF or /quit: recall → answer (or show the evidence) → remember."""
    ns = namespace(user, agent)
    with engine_for(ctx, data_dir) as hm:
        chat.chat_loop(hm, ns, budget)


@app.command("forget")
def forget_command(
    ctx: typer.Context,
    unit_ids: list[str] = opt.UNIT_IDS,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Delete units and everything derived from them (shows the cascade, then asks)."""
    ns = namespace(user, agent)
    with engine_for(ctx, data_dir) as hm:
        report = forget.forget(hm, ns, unit_ids, yes=yes, json_out=json_out)
    forget.show_forgotten(report, json_out=json_out)


@app.command()
def history(
    ctx: typer.Context,
    unit_id: str = opt.UNIT_ID,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Every change to a unit and to the units it replaced or was replaced by."""
    ns = namespace(user, agent)
    with engine_for(ctx, data_dir) as hm:
        events, units = render.history_of(hm, ns, unit_id)
    render.show_history(unit_id, events, units, json_out=json_out)


@app.command("reflect")
def reflect_command(
    ctx: typer.Context,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """Run the reflector now: the insights and personas it proposed, and the judge's decisions."""
    ns = namespace(user, agent)
    with engine_for(ctx, data_dir) as hm:
        result, units = reflect.reflect_now(hm, ns)
    reflect.show_reflection(result, units, ns, json_out=json_out)


@traces_app.command("list")
def traces_list(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", "-u", help="Only runs of this user."),
    agent: str = opt.AGENT,
    limit: int = typer.Option(20, min=1, help="How many runs, most recent first."),
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """The most recent graph runs."""
    key = namespace(user, agent).key if user is not None else None
    with engine_for(ctx, data_dir) as hm:
        traces.show_runs(hm.traces.list_runs(namespace=key, limit=limit), json_out=json_out)


@traces_app.command("show")
def traces_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A run id (from traces list, recall or ingest)."),
    data_dir: Path | None = opt.DATA_DIR,
    json_out: bool = opt.JSON,
) -> None:
    """One run as a tree of agent decisions, retrieved ids, LLM calls and fallbacks."""
    with engine_for(ctx, data_dir) as hm:
        traces.show_run(hm.traces.get(run_id), json_out=json_out)


@app.command("demo")
def demo_command(data_dir: Path | None = opt.DEMO_DIR) -> None:
    """Ingest the bundled sample with the deterministic agents, then check what the agents show."""
    demo.demo_command(data_dir)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: str = opt.HOST,
    port: int = opt.PORT,
    workers: int = opt.SERVE_WORKERS,
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """REST + MCP over HTTP; API keys from HYPERMNESIA_API_KEYS, else local mode (loopback only)."""
    serve.serve(data_dir_of(ctx, data_dir), host, port, workers)


@app.command("mcp")
def mcp_command(
    ctx: typer.Context,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """The MCP tools (remember, recall, forget, history, recent_runs) over stdio, for one user."""
    serve.serve_mcp_stdio(data_dir_of(ctx, data_dir), namespace(user, agent))


if __name__ == "__main__":
    app()
