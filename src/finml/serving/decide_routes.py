"""The ``/decide`` routes (see :mod:`finml.serving.decide`)."""

# No ``from __future__ import annotations``: FastAPI reads the body models from the
# signatures.
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from finml.features.online import LateTrade
from finml.serving.decide import (
    DecideBatchRequest,
    DecideBatchResponse,
    DecideRequest,
    DecideResponse,
    DecisionService,
    DecisionUnavailable,
)
from finml.serving.schemas import ErrorResponse

WHY = {
    400: "The body cannot be read (not text, or a Content-Length that is no number)",
    401: "No bearer token (only when FINML_API_TOKEN is set)",
    403: "A wrong bearer token (only when FINML_API_TOKEN is set)",
    422: "An invalid trade (one line per problem, naming the field), or a trade older than "
    "the symbol's kept state",
    503: "The champion needs a feature the online build does not compute",
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": why} for code, why in WHY.items()
}


def decide_routes(app: FastAPI, service: DecisionService, guarded: list[Any]) -> None:
    """``POST /decide`` (one trade) and ``POST /decide/batch`` (up to 1,000, in order)."""

    def run(request: Request, trade: DecideRequest) -> dict[str, Any]:
        try:
            return service.decide(request.scope["state"]["request_id"], trade)
        except LateTrade as exc:
            raise HTTPException(422, str(exc)) from exc
        except DecisionUnavailable as exc:
            raise HTTPException(503, str(exc)) from exc

    @app.post("/decide", dependencies=guarded, response_model=DecideResponse, responses=RESPONSES)
    def decide(request: Request, trade: DecideRequest) -> dict[str, Any]:
        """Decide on one raw trade: online features, anomaly probability, regime view, risk
        factors and the decision (NO_ACTION, RISK_REJECTED, EXIT_POSITION, TAKE_ACTION),
        with each stage's latency."""
        return run(request, trade)

    @app.post(
        "/decide/batch",
        dependencies=guarded,
        response_model=DecideBatchResponse,
        responses=RESPONSES,
    )
    def decide_batch(request: Request, batch: DecideBatchRequest) -> dict[str, Any]:
        """Decide on up to 1,000 raw trades, one after the other, in the order given."""
        return {"decisions": [run(request, trade) for trade in batch.trades]}
