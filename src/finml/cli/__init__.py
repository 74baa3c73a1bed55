"""The ``finml`` command (``finml = "finml.cli:main"``): the Typer ``app`` and ``main``
live in :mod:`finml.cli.root`, one module per command group beside it."""

from finml.cli.root import app, main

__all__ = ["app", "main"]
