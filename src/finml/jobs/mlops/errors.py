"""FinML's exceptions as the ``/mlops`` routes answer them, and the statuses each route
documents in OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException

from finml.errors import AlertNotFound, DataError, ModelNotFound, TableNotFound
from finml.serving.schemas import ErrorResponse

WHY = {
    400: "The body cannot be read (not UTF-8 text)",
    401: "No bearer token, or one that is not in FINML_MLOPS_READ_TOKENS / "
    "FINML_MLOPS_OPERATE_TOKENS (with neither set, every call)",
    403: "A read token on a route that needs the operate role",
    404: "No such run, experiment, metric, model, version or alert (named)",
    409: "The registry's state refuses the move (e.g. archiving the champion, or no "
    "test_set to gate on)",
    422: "An invalid parameter or body, naming the field",
}


def documented(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a route answering ``codes`` besides 401."""
    return {
        code: {"model": ErrorResponse, "description": WHY[code]} for code in sorted({401, *codes})
    }


@contextmanager
def answers(*, conflict: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Turn FinML's exceptions into HTTP errors: not found 404, invalid input 422, a missing
    table 409; ``conflict`` lists further exceptions answered 409."""
    try:
        yield
    except conflict as exc:
        raise HTTPException(409, str(exc)) from exc
    except (ModelNotFound, AlertNotFound) as exc:
        raise HTTPException(404, str(exc)) from exc
    except DataError as exc:
        raise HTTPException(422, str(exc)) from exc
    except TableNotFound as exc:
        raise HTTPException(409, str(exc)) from exc
