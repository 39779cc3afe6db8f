"""Memory-poisoning evaluation: scripted attacks on a user's facts and legitimate updates of them.

:mod:`evals.poisoning.cases` reads the case files, :mod:`evals.poisoning.play` plays one case
through the engine and judges it, :mod:`evals.poisoning.run` plays the sets and sums them up, and
:func:`run_poisoning_cli` is ``app.py poisoning``. Importing this package stays cheap: the engine
loads when a run starts.
"""

from __future__ import annotations

from evals.poisoning.cli import run_poisoning_cli

__all__ = ["run_poisoning_cli"]
