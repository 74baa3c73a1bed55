"""The training plane: anomaly-model candidates behind one interface, the walk-forward
tournament, the deployable pyfunc, the pre-deployment validator, the champion/challenger
gate and rollback. See ``docs/models.md``."""

from __future__ import annotations

import os

# OpenMP threads (LightGBM, XGBoost) busy-wait by default; on a shared 2-core machine that
# made a 3k-row fit 20x slower under load. Must be set before those libraries load.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from finml.models.base import AnomalyModel, Preprocessor, candidate
from finml.models.settings import ModelSettings

__all__ = ["AnomalyModel", "ModelSettings", "Preprocessor", "candidate"]
