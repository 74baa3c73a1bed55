"""The ``read`` routes of ``/mlops``: status, experiments, runs, run comparison, registered
models and what this server serves (all GETs)."""

# No ``from __future__ import annotations``: FastAPI reads the parameters from the
# signatures.
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Query

from finml.jobs.mlops import schemas
from finml.jobs.mlops.errors import answers, documented
from finml.jobs.mlops.status import Clock, serving_info, status
from finml.registry import browse
from finml.registry.runs import compare_runs

if TYPE_CHECKING:
    from finml.runtime.delta import DeltaTables
    from finml.serving.app import ServingState

RUN_ID = r"^[0-9a-f]{32}$"  # MLflow's run ids, locally and on Databricks
RunId = Annotated[str, Path(pattern=RUN_ID, description="An MLflow run id (32 hex digits)")]


def read_routes(
    router: APIRouter, state: "ServingState", tables: "DeltaTables", clock: Clock
) -> None:
    """Add the GET routes to ``router`` (its dependencies check the ``read`` role)."""
    config = state.config

    @router.get("/status", response_model=schemas.StatusResponse, responses=documented())
    def get_status() -> dict[str, Any]:
        """@champion, @challenger and @previous-champion in the registry, what this server
        serves, and the Delta version of each key table."""
        return status(state, tables, clock)

    @router.get("/serving", response_model=schemas.ServingInfo, responses=documented())
    def get_serving() -> dict[str, Any]:
        """The versions this process serves, the A/B mode, the challenger's share and uptime."""
        return serving_info(state, clock)

    @router.get("/experiments", response_model=schemas.ExperimentsResponse, responses=documented())
    def get_experiments() -> dict[str, Any]:
        """Every active MLflow experiment."""
        return {"experiments": browse.experiments(config)}

    @router.get("/runs", response_model=schemas.RunsResponse, responses=documented(404, 422))
    def search_runs(
        experiment: Annotated[
            str | None, Query(max_length=500, description="Experiment name or id (default: all)")
        ] = None,
        filter_: Annotated[
            str,
            Query(
                alias="filter",
                max_length=2000,
                description="MLflow filter, e.g. metrics.pr_auc > 0.5",
            ),
        ] = "",
        max_results: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Runs matching an MLflow search filter, newest first."""
        with answers():
            return {"runs": browse.search_runs(config, experiment, filter_, max_results)}

    _run_routes(router, state)


def _run_routes(router: APIRouter, state: "ServingState") -> None:
    """One run, its metric history and artifacts, and runs side by side."""
    config = state.config

    # Declared before /runs/{run_id}, which would otherwise take "compare" as an id.
    @router.get(
        "/runs/compare", response_model=schemas.ComparisonResponse, responses=documented(404, 422)
    )
    def compare(
        run_id: Annotated[list[str], Query(min_length=2, max_length=20)],
        diff: Annotated[bool, Query(description="Only the rows that differ")] = False,
    ) -> dict[str, Any]:
        """Params, latest metrics (with each run's change against the first) and finml.*
        tags of two or more runs side by side."""
        with answers():
            found = compare_runs(config, run_id).as_dict(only_differences=diff)
        for row in found["rows"]:
            row["values"] = {k: browse.finite(v) for k, v in row["values"].items()}
            if "delta" in row:
                row["delta"] = [browse.finite(v) for v in row["delta"]]
        return found

    @router.get("/runs/{run_id}", response_model=schemas.RunOut, responses=documented(404, 422))
    def get_run(run_id: RunId) -> dict[str, Any]:
        """One run: params, latest metrics and tags."""
        with answers():
            return browse.get_run(config, run_id)

    @router.get(
        "/runs/{run_id}/metrics/{key}",
        response_model=schemas.MetricHistoryResponse,
        responses=documented(404, 422),
    )
    def metric_history(run_id: RunId, key: Annotated[str, Path(max_length=250)]) -> dict[str, Any]:
        """Every logged value of one metric, by step."""
        with answers():
            return {
                "run_id": run_id,
                "key": key,
                "history": browse.metric_history(config, run_id, key),
            }

    @router.get(
        "/runs/{run_id}/artifacts",
        response_model=schemas.ArtifactsResponse,
        responses=documented(404, 422),
    )
    def list_artifacts(
        run_id: RunId,
        path: Annotated[str, Query(max_length=1000, description="A folder (default: root)")] = "",
    ) -> dict[str, Any]:
        """The artifacts directly under ``path`` (a listing; no downloads)."""
        with answers():
            found = browse.artifacts(config, run_id, path or None)
        return {"run_id": run_id, "path": path, "artifacts": found}

    _model_routes(router, state)


def _model_routes(router: APIRouter, state: "ServingState") -> None:
    config = state.config

    @router.get("/models", response_model=schemas.ModelsResponse, responses=documented())
    def get_models() -> dict[str, Any]:
        """Registered models with their aliases and versions (archived and rolled-back
        flags, finml.* tags)."""
        return {"models": browse.registered_models(config)}

    @router.get(
        "/models/{name}/versions/{version}",
        response_model=schemas.ModelVersion,
        responses=documented(404, 422),
    )
    def get_version(
        name: Annotated[str, Path(max_length=500)],
        version: Annotated[int, Path(ge=1, le=2**31 - 1)],
    ) -> dict[str, Any]:
        """One registered version with its aliases, flags and finml.* tags."""
        with answers():
            return browse.model_version(config, name, version)
