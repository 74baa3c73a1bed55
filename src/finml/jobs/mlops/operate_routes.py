"""The ``operate`` routes of ``/mlops``: move a registered version (the same function and
audits as ``finml models transition``) and acknowledge an alert (POSTs)."""

# No ``from __future__ import annotations``: FastAPI reads the parameters from the
# signatures.
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.responses import JSONResponse

from finml.errors import DataError
from finml.jobs.mlops import schemas
from finml.jobs.mlops.errors import answers, documented
from finml.serving.roles import Caller

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.jobs.transitions import Moved
    from finml.runtime.delta import DeltaTables

REJECTED: dict[int | str, dict[str, Any]] = {
    409: {
        "model": schemas.RejectedResponse,
        "description": "The gate rejected the promotion (nothing moved; the attempt is "
        "audited), or the registry refuses the move (archiving the champion, no test_set)",
    }
}


def operate_routes(
    router: APIRouter,
    config: "ProjectConfig",
    tables: "DeltaTables",
    operator: Callable[..., Caller],
) -> None:
    """Add the POST routes to ``router``; ``operator`` is the dependency of the operate role."""
    from finml.registry import ANOMALY_MODEL, model_name

    anomaly = model_name(config, ANOMALY_MODEL)
    Operator = Annotated[Caller, Depends(operator)]

    @router.post(
        "/models/{name}/versions/{version}/transition",
        response_model=schemas.TransitionResponse,
        responses={**documented(400, 403, 404, 422), **REJECTED},
    )
    def transition(
        name: Annotated[str, Path(max_length=500)],
        version: Annotated[int, Path(ge=1, le=2**31 - 1)],
        body: schemas.TransitionRequest,
        caller: Operator,
    ) -> Any:
        """Move a version to @challenger, to @champion (through the gate and replay A/B,
        or ``force``), or archive it, as ``finml models transition`` does; audited in
        ``model_transitions`` with actor ``api:<token name>``."""
        from finml.jobs.transitions import move_version

        if name != anomaly:
            raise HTTPException(
                422, f"name: expected the anomaly model {anomaly!r} (the gated one), got {name!r}"
            )
        with answers(conflict=(DataError,)):
            moved = move_version(
                config,
                tables,
                version,
                body.to,
                reason=body.reason,
                force=body.force,
                actor=caller.actor,
            )
        answer = _moved(moved)
        if not moved.moved:
            detail = f"{answer['decision']} v{version}: " + "; ".join(answer["reasons"])
            return JSONResponse({"detail": detail, "errors": [], "decision": answer}, 409)
        return answer

    _ack_route(router, tables, operator)


def _ack_route(router: APIRouter, tables: "DeltaTables", operator: Callable[..., Caller]) -> None:
    from finml.monitoring.alerts import acknowledge

    Operator = Annotated[Caller, Depends(operator)]

    @router.post(
        "/alerts/{alert_id}/ack",
        response_model=schemas.AckResponse,
        responses=documented(400, 403, 404, 422),
    )
    def ack(
        alert_id: Annotated[str, Path(min_length=1, max_length=200)],
        body: schemas.AckRequest,
        caller: Operator,
    ) -> dict[str, Any]:
        """Acknowledge an alert (idempotent): its dedup key stops escalating."""
        with answers():
            done = acknowledge(tables, alert_id, body.by or caller.name, body.note)
        return {
            "alert_id": done.alert_id,
            "acknowledged_by": done.by,
            "acknowledged_at": done.at,
            "note": done.note,
            "new": done.new,
        }


def _moved(moved: "Moved") -> dict[str, Any]:
    audit = moved.transition
    return {
        "event_id": audit.event_id,
        "model_name": audit.model_name,
        "version": audit.version,
        "to": audit.to_state,
        "decision": audit.decision,
        "moved": moved.moved,
        "reasons": list(moved.reasons),
        "gate_event_id": audit.gate_event_id,
        "actor": audit.actor,
    }
