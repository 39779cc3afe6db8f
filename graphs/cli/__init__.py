"""What the command line does beyond parsing its options: opening the engine, rendering results
as tables and trees, ingesting files, chatting, forgetting, reflecting, and the self-checking demo.

``app.py`` is only the command table; every command calls into these modules. They import the
engine (``graphs``), ``memory`` and ``rich``/``typer``, never ``evals``.
"""
