"""Mount the ``/mlops`` routes on a serving app."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, FastAPI

from finml.jobs.mlops.operate_routes import operate_routes
from finml.jobs.mlops.read_routes import read_routes
from finml.jobs.mlops.status import Clock
from finml.log import get_logger
from finml.serving.roles import RoleAuth

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables
    from finml.serving.app import ServingState

log = get_logger("jobs.mlops")
PREFIX = "/mlops"


def mount_mlops(
    app: FastAPI, *, tables: DeltaTables | None = None, auth: RoleAuth | None = None
) -> FastAPI:
    """Add the ``/mlops`` routes to ``app`` (built by :func:`finml.serving.app.create_app`)
    and return it. ``tables`` default to delta-rs tables of the app's config; ``auth`` to
    the tokens of the config's secret store: the environment, then the SOPS file
    (:meth:`RoleAuth.from_env`).

    Raises:
        ConfigError: a malformed token entry.
        SecretsError: the secrets file should be read and sops is missing or fails.
    """
    from finml.runtime.delta import DeltaTables

    state: ServingState = app.state.serving
    tables = tables or DeltaTables.from_config(state.config, None)
    auth = auth or RoleAuth.from_env(state.config.secrets.value)
    reader = APIRouter(prefix=PREFIX, tags=["mlops"], dependencies=[Depends(auth.requires("read"))])
    read_routes(reader, state, tables, Clock())
    operator = APIRouter(prefix=PREFIX, tags=["mlops"])
    operate_routes(operator, state.config, tables, auth.requires("operate"))
    app.include_router(reader)
    app.include_router(operator)
    app.openapi_schema = None  # rebuilt with the new routes on the next request
    log.info("mlops_api_mounted", prefix=PREFIX, **auth.roles)
    return app
