"""Monitoring: drift (PSI, JS distance, KS, Wasserstein, chi-squared), model performance,
a retraining trigger with a policy and an audit trail, alerting and a live anomaly watch.

See ``docs/monitoring.md`` for the metric definitions, severities, policy and delivery.
Importing this package starts no JVM.
"""

from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.drift import ColumnDrift, DriftDetector, DriftReport, Window
from finml.monitoring.performance import PerformanceMonitor
from finml.monitoring.settings import MonitoringSettings
from finml.monitoring.trigger import Decision, Observation, RetrainingTrigger
from finml.monitoring.watch import LiveAnomalyWatch
from finml.vocabulary import AlertSeverity, AlertType

__all__ = [
    "Alert",
    "AlertManager",
    "AlertSeverity",
    "AlertType",
    "ColumnDrift",
    "Decision",
    "DriftDetector",
    "DriftReport",
    "LiveAnomalyWatch",
    "MonitoringSettings",
    "Observation",
    "PerformanceMonitor",
    "RetrainingTrigger",
    "Window",
]
