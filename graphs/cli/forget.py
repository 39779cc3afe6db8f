"""Forgetting: show what a delete would cascade to, ask, then delete."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import typer

from graphs.cli.render import err, out, print_json, units_table

if TYPE_CHECKING:
    from graphs import Hypermnesia
    from memory.model import Namespace
    from memory.store import DeleteReport

__all__ = ["forget", "show_forgotten"]


def forget(
    hm: Hypermnesia, ns: Namespace, unit_ids: Sequence[str], *, yes: bool, json_out: bool
) -> DeleteReport:
    """Delete ``unit_ids`` and what derives from them once confirmed on stderr (or with ``yes``).

    The preview table is left out with ``json_out``; declining exits with status 1.
    """
    preview = hm.forget(ns, unit_ids, dry_run=True)
    if not json_out:
        doomed = hm.store.get(ns, preview.deleted)
        title = f"Forgetting {len(unit_ids)} unit(s) deletes {len(doomed)} in {ns}"
        out.print(units_table(doomed, title))
        if preview.turns_deleted:
            out.print(f"raw turns deleted too: {', '.join(preview.turns_deleted)}")
    if not yes and not typer.confirm("Delete them?", default=False, err=True):
        err.print(("" if sys.stdin.isatty() else "\n") + "nothing deleted")
        raise typer.Exit(1)
    return hm.forget(ns, unit_ids)


def show_forgotten(report: DeleteReport, *, json_out: bool) -> None:
    if json_out:
        print_json(report.model_dump(mode="json"))
        return
    out.print(
        f"[green]deleted {len(report.deleted)} unit(s) and "
        f"{len(report.turns_deleted)} raw turn(s)[/]"
    )
