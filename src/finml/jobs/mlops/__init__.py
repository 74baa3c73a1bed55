"""The MLOps REST API under ``/mlops`` on the ``finml serve`` app (:func:`mount_mlops`).

It lives in the jobs layer because it reaches every domain package: the registry views
(:mod:`finml.registry.browse`), model moves through the gate (:mod:`finml.jobs.transitions`),
alert acknowledgements (:mod:`finml.monitoring.acks`) and the serving state. Roles and
tokens: :mod:`finml.serving.roles`.
"""

from finml.jobs.mlops.mount import mount_mlops

__all__ = ["mount_mlops"]
