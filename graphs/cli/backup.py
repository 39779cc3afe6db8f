"""``export`` and ``import``: a namespace as JSON lines, one memory unit per line (see
:mod:`memory.backup`), for backups, restores and comparing two stores."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from graphs.cli import options as opt
from graphs.cli.engine import engine_for, namespace
from graphs.cli.render import err
from memory.backup import export_lines, parse_units, restore
from memory.errors import InvalidInputError

__all__ = ["export_command", "import_command", "read_source"]

SOURCE = typer.Argument(..., help="An export's JSON lines file, or - for stdin.")


def export_command(
    ctx: typer.Context,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """Every unit of a namespace, current and superseded, as JSON lines on stdout."""
    ns = namespace(user, agent)
    count = 0
    with engine_for(ctx, data_dir) as hm:
        for line in export_lines(hm.store, ns):
            typer.echo(line)
            count += 1
    err.print(f"exported {count} unit(s) of {ns}")


def import_command(
    ctx: typer.Context,
    source: str = SOURCE,
    user: str = opt.USER,
    agent: str = opt.AGENT,
    data_dir: Path | None = opt.DATA_DIR,
) -> None:
    """Restore an export into an empty namespace: units as they were, raw turns from them."""
    ns = namespace(user, agent)
    units = parse_units(read_source(source), ns, "stdin" if source == "-" else source)
    with engine_for(ctx, data_dir) as hm:
        turns = restore(hm.store, ns, units)
    err.print(f"[green]imported {len(units)} unit(s) and {len(turns)} raw turn(s) into {ns}[/]")


def read_source(source: str) -> bytes:
    """The bytes of ``source``, a file or ``-`` for stdin; an unreadable file names itself."""
    if source == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"missing file: {source}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {source}: {exc.strerror or exc}") from None
