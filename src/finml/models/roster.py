"""The tournament's roster: every candidate, with the modules that register them imported.

The candidate modules import :mod:`finml.models.base` (the interface and ``@candidate``), so
the lookup that has to import them lives here, above them, not in ``base``.
"""

from __future__ import annotations

from typing import Any

from finml.models.base import AnomalyModel, registered, registered_candidates


def candidates() -> dict[str, type[AnomalyModel]]:
    """Every registered candidate class by name."""
    import finml.models.baseline
    import finml.models.candidates
    import finml.models.ensemble  # noqa: F401

    return registered_candidates()


def build(name: str, params: dict[str, Any] | None = None, *, seed: int, n_jobs: int):
    """A fresh, unfitted candidate ``name``.

    Raises:
        ConfigError: ``name`` is not a registered candidate.
    """
    candidates()
    return registered(name)(params, seed=seed, n_jobs=n_jobs)
