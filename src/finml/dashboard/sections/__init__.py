"""The built-in dashboard sections; importing this package registers them (in order)."""

from finml.dashboard.sections import (  # noqa: F401  (imported for registration)
    alerts,
    anomalies,
    configuration,
    decisions,
    drift,
    eda,
    jobs,
    model_metrics,
    models,
    overview,
    quality,
    regimes,
    retraining,
    serving,
    timeline,
)
