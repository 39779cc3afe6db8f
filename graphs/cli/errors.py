"""The one error handler of the command line."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from graphs.cli.render import err
from memory.errors import HypermnesiaError

__all__ = ["HandledGroup"]


class HandledGroup(TyperGroup):
    """The root command group: every subcommand runs inside its ``invoke``, so the project's errors
    from any command become one red line on stderr and exit status 1, with no traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer's own click.Context
        try:
            return super().invoke(ctx)
        except HypermnesiaError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
