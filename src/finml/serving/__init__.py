"""Serving: the champion in real time (REST) and in batch (Spark), A/B and shadow routing,
and the inference log.

* :func:`finml.serving.app.create_app` — the FastAPI app (``finml serve``).
* :mod:`finml.serving.scoring` — Spark batch scoring (``finml score``).
* :mod:`finml.serving.abtest` — A/B analysis of the inference log (``finml ab-report``).
* :class:`finml.serving.settings.ServingSettings` — the ``serving`` config section.

Nothing is imported here, so ``import finml.serving`` stays cheap (no MLflow, no Spark).
"""
