"""Closed sets of words shared across the domain packages (the layer below them all).

The champion/challenger gate decisions, written to the audit tables and registry tags by
both the anomaly-model gate (:mod:`finml.models.gate`) and the regime gate
(:mod:`finml.regimes.promotion`).
"""

from __future__ import annotations

PROMOTE, REJECT, MANUAL_PROMOTE = "PROMOTE", "REJECT", "MANUAL_PROMOTE"
