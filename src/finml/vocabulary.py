"""Closed sets of words shared across the domain packages (the layer below them all).

The delivery status of an ``alerts`` row (:mod:`finml.monitoring.alerts`, ``finml alerts``).

The champion/challenger gate decisions, written to the audit tables and registry tags by
both the anomaly-model gate (:mod:`finml.models.gate`) and the regime gate
(:mod:`finml.regimes.promotion`).
"""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    """The outcome an ``alerts`` row records for one alert and destination."""

    DELIVERED = "delivered"
    FAILED = "failed"
    DEDUPLICATED = "deduplicated"  # within the dedup window of a sent alert: not sent again
    RECORDED = "recorded"  # no webhook configured: stored only


PROMOTE, REJECT, MANUAL_PROMOTE = "PROMOTE", "REJECT", "MANUAL_PROMOTE"
