"""The built-in dashboard sections; importing this package registers them (in order)."""

from finml.dashboard.sections import (  # noqa: F401  (imported for registration)
    alerts,
    decisions,
    drift,
    jobs,
    models,
    overview,
    quality,
    regimes,
    retraining,
    timeline,
)
