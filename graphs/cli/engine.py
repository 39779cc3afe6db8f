"""Opening the engine and naming namespaces for a command, importing the engine only when used so
that ``--help`` and the benchmarks start quickly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from memory.errors import InvalidInputError

if TYPE_CHECKING:
    from graphs import Hypermnesia
    from memory.model import Namespace

__all__ = ["data_dir_of", "engine_for", "namespace", "open_engine"]


def open_engine(root: Path | None, *, deterministic: bool = False) -> Hypermnesia:
    """The engine over ``root`` (default: the settings' data folder); ``deterministic`` ignores any
    configured LLM, so the agents run their deterministic steps."""
    from graphs import Hypermnesia
    from memory.settings import Settings

    settings = Settings()
    if deterministic:
        settings = settings.model_copy(update={"llm_model": None})
    root = root or settings.data_dir
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot create data folder {root}: {exc.strerror or exc}"
        ) from None
    return Hypermnesia.open(root, settings=settings)


def namespace(user: str, agent: str) -> Namespace:
    """The namespace of ``--user``/``--agent``; a bad name raises the project's error."""
    from graphs.memory_node import namespace_for

    return namespace_for(user, agent)


def data_dir_of(ctx: typer.Context, data_dir: Path | None) -> Path | None:
    """A command's data folder: its own ``--data-dir``, else the global one (None: settings')."""
    root: Path | None = data_dir or (ctx.find_root().obj or {}).get("data_dir")
    return root


def engine_for(ctx: typer.Context, data_dir: Path | None) -> Hypermnesia:
    """The engine of a command: its own ``--data-dir``, else the global one, else the settings'."""
    return open_engine(data_dir_of(ctx, data_dir))
