"""Drift detection: PSI, Jensen-Shannon distance, KS, Wasserstein, chi-squared.

The numpy path (:class:`DriftDetector`) compares windows that fit in memory; the Spark path
(:func:`finml.monitoring.drift.spark.spark_drift`) profiles tables that do not.
"""

from finml.monitoring.drift.detector import CategoricalReference, DriftDetector, NumericReference
from finml.monitoring.drift.report import ColumnDrift, DriftReport, Window, severity

__all__ = [
    "CategoricalReference",
    "ColumnDrift",
    "DriftDetector",
    "DriftReport",
    "NumericReference",
    "Window",
    "severity",
]
