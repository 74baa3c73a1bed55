"""The REST service: ``create_app(config)`` returns a FastAPI app serving the champion.

Routes: ``POST /predict`` (one record), ``POST /predict/batch``, ``GET /models``,
``GET /metrics`` (Prometheus text), ``GET /health`` (process up), ``GET /ready`` (champion
loaded, log writer running). OpenAPI at ``/openapi.json``, listing every status each route
answers; the record schema is built from the champion's signature at start. The lifespan
starts the alias poller and the inference-log writer (process), freezes the start-up heap
out of the garbage collector's reach and, on shutdown (SIGTERM under uvicorn), stops the
poller, finishes shadow work and has every queued log row committed.
"""

# No ``from __future__ import annotations`` here: the route signatures use the record
# model built at runtime, which FastAPI must see as a real object, not a string.
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from finml.log import get_logger
from finml.serving import catalog
from finml.serving.body import read_body, require_json
from finml.serving.http import (
    BearerAuth,
    RequestIdMiddleware,
    contract_error,
    describe_errors,
    http_error,
    lean_route,
    validation_error,
)
from finml.serving.inputs import RequestParser
from finml.serving.invocations import ProtocolError, payload_records, predictions
from finml.serving.limits import feature_bounds
from finml.serving.log_writer import InferenceLogWriter
from finml.serving.metrics import ServingMetrics
from finml.serving.models import (
    CHALLENGER,
    CHAMPION,
    AliasPoller,
    LoadedModel,
    ModelContractError,
    ModelSlots,
    Slots,
    load_alias,
)
from finml.serving.schemas import (
    ENTITY_FIELDS,
    INVOCATIONS_BODY,
    BadRequestResponse,
    BatchResponse,
    ErrorResponse,
    HealthResponse,
    InvocationsResponse,
    ModelsResponse,
    PredictResponse,
    ReadyResponse,
)
from finml.serving.service import ScoringService
from finml.serving.settings import ServingSettings

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables
    from finml.serving.decide import DecisionService

log = get_logger("serving.app")
TOKEN_VARIABLE = "FINML_API_TOKEN"  # noqa: S105 - a variable name, not a secret
# Every error status a route can answer, with the reason; each route lists its own.
_WHY = {
    400: "The body cannot be read (not text, or a Content-Length that is no number); on "
    "/invocations also a payload MLflow's protocol does not take, or invalid records",
    401: "No bearer token (only when FINML_API_TOKEN is set)",
    403: "A wrong bearer token (only when FINML_API_TOKEN is set)",
    413: "The body is over serving.max_body_bytes (refused while reading; the connection is "
    "closed), or a batch has more than serving.max_batch records",
    415: "The Content-Type is not application/json (or application/*+json)",
    422: "Invalid records: one line per problem, naming the record index and field",
    500: "The model broke the scoring contract (no score/prediction, or a non-finite score)",
    503: "Not ready: the inference-log writer is not running",
}
SCORING_STATUSES = (400, 401, 403, 413, 415, 422, 500)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse, "description": _WHY[code]} for code in codes}


@dataclass
class ServingState:
    """Everything the routes share; ``app.state.serving`` (tests reach in through it)."""

    config: "ProjectConfig"
    settings: ServingSettings
    slots: ModelSlots
    writer: InferenceLogWriter
    poller: AliasPoller
    service: ScoringService
    metrics: ServingMetrics
    decisions: "DecisionService | None" = None


def create_app(
    config: "ProjectConfig",
    settings: ServingSettings | None = None,
    *,
    tables: "DeltaTables | None" = None,
    token: str | None = None,
    decide: bool = False,
) -> FastAPI:
    """Build the app around the current ``champion`` (and ``challenger``, if set).

    ``settings`` defaults to the config's ``serving`` section; ``tables`` to delta-rs tables
    of ``config`` (no Spark); ``token`` to ``FINML_API_TOKEN`` (the environment, else the
    secrets file; unset or ``""``: no auth, warned).
    ``decide`` adds ``POST /decide`` and ``/decide/batch`` (:mod:`finml.serving.decide`).

    Raises:
        ModelNotFound: the model has no ``champion`` alias.
        ModelContractError: the champion's signature is not named numeric inputs.
    """
    from finml import registry
    from finml.runtime.delta import DeltaTables

    settings = settings or ServingSettings.from_config(config)
    # token=None reads the environment, then the secrets file; "" means "no auth" explicitly.
    token = (config.secrets.value(TOKEN_VARIABLE) if token is None else token) or None
    if token is None:
        log.warning("auth_disabled", reason=f"{TOKEN_VARIABLE} is unset; every caller is allowed")
    registry.configure(config)
    name = registry.model_name(config, settings.model)
    registry.require_alias(config, name, CHAMPION)
    champion = load_alias(config, name, CHAMPION)
    assert champion is not None  # require_alias raised otherwise
    slots = ModelSlots(Slots(champion, load_alias(config, name, CHALLENGER)))
    bounds = feature_bounds(champion.types, settings.feature_dtype)
    tables = tables or DeltaTables.from_config(config, None)
    writer = InferenceLogWriter(tables.table(settings.inference_log.table), settings.inference_log)
    metrics = ServingMetrics()
    metrics.watch(slots, writer)
    state = _serving_state(config, settings, slots, writer, champion, bounds, metrics)
    app = _app(name, settings, state, metrics)
    parser = RequestParser(champion.features, settings.max_batch, bounds, champion.optional)
    auth = BearerAuth(token)
    _routes(app, state, parser, auth)
    if decide:
        from finml.serving.decide import DecisionService
        from finml.serving.decide_routes import decide_routes
        from finml.serving.sla import sla_alert

        alert = sla_alert(config, tables)
        state.decisions = DecisionService(config, tables, slots, metrics.registry, alert)
        decide_routes(app, state.decisions, [Depends(auth.dependency())])
    return app


def _serving_state(
    config: "ProjectConfig",
    settings: ServingSettings,
    slots: ModelSlots,
    writer: InferenceLogWriter,
    champion: LoadedModel,
    bounds: tuple[float, ...],
    metrics: ServingMetrics,
) -> ServingState:
    """The routes' shared state: the slots, their alias poller and the scoring service."""
    return ServingState(
        config,
        settings,
        slots,
        writer,
        AliasPoller(
            config,
            slots,
            dict(zip(champion.features, bounds, strict=True)),
            settings.poll_seconds,
            settings.feature_dtype,
        ),
        ScoringService(slots, writer, settings, champion.features, metrics),
        metrics,
    )


def _app(
    name: str, settings: ServingSettings, state: ServingState, metrics: ServingMetrics
) -> FastAPI:
    """The FastAPI app over ``state``, with its middleware and error handlers (no routes)."""
    app = FastAPI(
        title="FinML anomaly scoring",
        version="1",
        description=f"Scores trades with `{name}` (@champion; A/B mode {settings.ab.mode}).",
        lifespan=_lifespan,
    )
    app.state.serving = state
    app.add_middleware(RequestIdMiddleware, metrics=metrics)
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(ModelContractError, contract_error)  # type: ignore[arg-type]
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: ServingState = app.state.serving
    state.writer.start()
    state.poller.start()
    if state.decisions is not None:
        state.decisions.log.start()
    _freeze_startup_objects()
    log.info("serving_started", model=state.slots.current.champion.name)
    try:
        yield
    finally:
        state.poller.stop()
        state.service.close()
        state.writer.close()
        if state.decisions is not None:
            state.decisions.log.close()
        gc.unfreeze()
        log.info("serving_stopped", rows_logged=state.writer.rows_written)


def _freeze_startup_objects() -> None:
    """Move everything alive after start-up (models, MLflow, pandas, ~370k objects) out of
    the cyclic collector's reach: a full collection then scans what requests left behind,
    not the whole heap, and stops pausing the server for ~230 ms. Freed by reference
    counting as before; only cycles among them are no longer collected."""
    gc.collect()
    gc.freeze()


def _routes(app: FastAPI, state: ServingState, parser: RequestParser, auth: BearerAuth) -> None:
    guarded = [Depends(auth.dependency())]
    _scoring_routes(app, state, parser, auth, guarded)
    _invocations_route(app, state, parser, auth, guarded)

    @app.get(
        "/models", dependencies=guarded, response_model=ModelsResponse, responses=_errors(401, 403)
    )
    def models() -> dict[str, Any]:
        """Registered versions with aliases and key metrics, and what this server has loaded."""
        return catalog.describe(state.config, state.slots.current, state.settings)

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text exposition."""
        body = generate_latest(state.metrics.registry)
        return PlainTextResponse(body, media_type=CONTENT_TYPE_LATEST)

    @app.get("/health", response_model=HealthResponse)
    async def health() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/ready", response_model=ReadyResponse, responses=_errors(503))
    async def ready() -> JSONResponse:
        """Ready when a champion is loaded and the inference-log writer runs."""
        if not state.writer.alive:
            return JSONResponse({"detail": "inference-log writer is not running"}, 503)
        current = state.slots.current
        return JSONResponse({"status": "ready", "champion": current.champion.version})


def _scoring_routes(
    app: FastAPI, state: ServingState, parser: RequestParser, auth: BearerAuth, guarded: list[Any]
) -> None:
    """``POST /predict`` and ``POST /predict/batch``: documented by FastAPI from the declared
    endpoints below, served by lean handlers (see :func:`~finml.serving.http.lean_route`)
    that authorise, check the content type, read the body within ``max_body_bytes``, parse
    (:class:`RequestParser`) and serialise (orjson) themselves, in that order."""
    max_batch, max_body = state.settings.max_batch, state.settings.max_body_bytes

    async def body(request: Request) -> bytes:
        await auth(request)
        require_json(request)
        return await read_body(request, max_body)

    async def serve_one(request: Request) -> Response:
        records = parser.one(await body(request))
        request_id = request.scope["state"]["request_id"]
        scored = state.service.score(request_id, records)[0]
        return _json({"request_id": request_id, **scored})

    async def serve_batch(request: Request) -> Response:
        records = parser.many(await body(request))
        if len(records) > max_batch:
            raise HTTPException(413, f"records: expected at most {max_batch}, got {len(records)}")
        request_id = request.scope["state"]["request_id"]
        scored = state.service.score(request_id, records)
        return _json({"request_id": request_id, "predictions": scored})

    record = parser.record

    def predict(body: Annotated[record, Body()]) -> None:  # type: ignore[valid-type]
        """Score one record with the variant its symbol is routed to."""

    def predict_batch() -> None:
        """Score up to ``max_batch`` records; each is routed by its own symbol."""

    common: dict[str, Any] = {
        "methods": ["POST"],
        "responses": _errors(*SCORING_STATUSES),
        "dependencies": guarded,
    }
    app.router.add_api_route(
        "/predict",
        predict,
        response_model=PredictResponse,
        route_class_override=lean_route(serve_one),
        **common,
    )
    app.router.add_api_route(
        "/predict/batch",
        predict_batch,
        response_model=BatchResponse,
        openapi_extra={"requestBody": _json_body(_batch_schema(record, max_batch))},
        route_class_override=lean_route(serve_batch),
        **common,
    )


def _invocations_route(
    app: FastAPI, state: ServingState, parser: RequestParser, auth: BearerAuth, guarded: list[Any]
) -> None:
    """``POST /invocations``: MLflow's scoring protocol (:mod:`finml.serving.invocations`),
    scored, routed and logged as ``/predict/batch``; errors in MLflow's 400 body."""
    max_batch, max_body = state.settings.max_batch, state.settings.max_body_bytes
    columns = frozenset(parser.features) | frozenset(ENTITY_FIELDS)

    async def serve(request: Request) -> Response:
        await auth(request)
        require_json(request)
        raw = await read_body(request, max_body)
        try:
            records = parser.records(payload_records(raw, columns))
        except ProtocolError as exc:
            return _bad_request(str(exc))
        except RequestValidationError as exc:
            return _bad_request("; ".join(describe_errors(list(exc.errors()))[:5]))
        if len(records) > max_batch:
            raise HTTPException(413, f"records: expected at most {max_batch}, got {len(records)}")
        scored = state.service.score(request.scope["state"]["request_id"], records)
        return _json(predictions(scored))

    def invocations() -> None:
        """Score an MLflow scoring payload (``dataframe_split``, ``dataframe_records``,
        ``inputs`` / ``instances``); answers ``{"predictions": [{score, prediction}]}``."""

    bad_request = {"model": BadRequestResponse, "description": _WHY[400]}
    app.router.add_api_route(
        "/invocations",
        invocations,
        methods=["POST"],
        response_model=InvocationsResponse,
        responses={400: bad_request, **_errors(401, 403, 413, 415, 500)},
        dependencies=guarded,
        openapi_extra={"requestBody": _json_body(INVOCATIONS_BODY)},
        route_class_override=lean_route(serve),
    )


def _bad_request(message: str) -> Response:
    body = {"error_code": "BAD_REQUEST", "message": message}
    return Response(orjson.dumps(body), status_code=400, media_type="application/json")


def _json(content: dict[str, Any]) -> Response:
    return Response(orjson.dumps(content), media_type="application/json")


def _batch_schema(record: type[Any], max_batch: int) -> dict[str, Any]:
    """The published schema of the batch body (what ``batch_model`` validates; more than
    ``max_batch`` records is a 413)."""
    items = {"$ref": f"#/components/schemas/{record.__name__}"}
    records = {"type": "array", "items": items, "minItems": 1, "maxItems": max_batch}
    return {
        "title": "BatchRequest",
        "type": "object",
        "properties": {"records": records},
        "required": ["records"],
        "additionalProperties": False,
    }


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
