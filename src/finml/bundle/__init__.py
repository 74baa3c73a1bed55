"""The Databricks Asset Bundle as code: typed models, loader, variables, DAG and validation.

``validate_bundle(root)`` checks ``databricks.yml`` and ``resources/*.yml``;
``finml.jobs.runner.run_job`` runs one of its jobs locally through ``spark-submit``.
Scripts in ``scripts/`` use :func:`finml.bundle.params.task_context` and
:func:`finml.bundle.task_values.set_task_value`.
"""

from __future__ import annotations

from finml.bundle.loader import Bundle, Problem, load_bundle
from finml.bundle.validate import validate_bundle

__all__ = ["Bundle", "Problem", "load_bundle", "validate_bundle"]
