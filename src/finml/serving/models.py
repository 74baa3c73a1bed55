"""Loaded models and their hot swap.

A :class:`LoadedModel` is immutable: one registered version, its pyfunc and its feature
columns. :class:`ModelSlots` holds the current champion/challenger pair as one frozen
:class:`Slots` object; a swap replaces that object in a single assignment (atomic under the
GIL). A request reads ``slots.current`` once and keeps that reference, so an in-flight
request always finishes on the model it started with, even if the alias moves meanwhile.
:class:`AliasPoller` re-reads the aliases every ``poll_seconds`` and swaps on a change.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import FinmlError
from finml.log import get_logger
from finml.serving.limits import FeatureDtype, feature_bounds, holds

if TYPE_CHECKING:
    from finml.config import ProjectConfig

log = get_logger("serving.models")

CHAMPION, CHALLENGER = "champion", "challenger"
_NUMERIC_TYPES = {"double", "float", "long", "integer"}


class ModelContractError(FinmlError):
    """A registered model does not honour the serving contract (signature or output)."""


@dataclass(frozen=True)
class LoadedModel:
    """One registered model version ready to score."""

    name: str
    version: int
    alias: str
    features: tuple[str, ...]
    pyfunc: Any = field(repr=False, compare=False)
    # Features its signature does not require (null or absent in the input example): the
    # model imputes them, so a request may send null or leave them out.
    optional: frozenset[str] = field(default=frozenset(), compare=False)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)

    @cached_property
    def predict_fn(self) -> Callable[[pd.DataFrame], Any]:
        """The flavour's own predict, skipping pyfunc's per-call signature enforcement.

        Requests were already validated against this very signature (the request model is
        built from it: exactly these columns, finite floats), so enforcing it again costs
        ~0.5 ms per call for nothing. For a ``PythonModel`` whose input MLflow passes through
        unconverted, its ``predict`` is called directly, as MLflow's wrapper would call it
        (that wrapper also re-reads the predict signature on every call: ~60 µs). Falls back
        to ``pyfunc.predict`` if MLflow's internals differ.
        """
        inner = getattr(self.pyfunc, "_predict_fn", None)
        if inner is None or self.pyfunc.metadata._is_signature_from_type_hint():
            return self.pyfunc.predict  # type: ignore[no-any-return]
        direct = _python_model_predict(inner)
        if direct is not None:
            return direct
        takes_params = "params" in inspect.signature(inner).parameters
        return (lambda frame: inner(frame, params=None)) if takes_params else inner

    @cached_property
    def types(self) -> tuple[str, ...]:
        """The MLflow column type of each feature (double, float, long, integer)."""
        schema = self.pyfunc.metadata.get_input_schema()
        found = dict(zip(schema.input_names(), schema.input_types(), strict=True))
        return tuple(_type_name(found[f]) for f in self.features)

    @cached_property
    def array_fn(self) -> Callable[[np.ndarray], tuple[Any, Any]] | None:
        """The python model's ``predict_array(values) -> (scores, predictions)``, if it has
        one (FinML's anomaly pyfunc does): the same numbers as ``predict`` from the request's
        float64 matrix, with no DataFrame built in or out (~0.2 ms a call). None otherwise."""
        try:
            model = self.pyfunc.unwrap_python_model()
        except Exception:  # not a python-function model, or MLflow's internals moved
            return None
        fn = getattr(model, "predict_array", None)
        return fn if callable(fn) else None

    @cached_property
    def columns(self) -> pd.Index:
        """The feature columns as one shared ``pandas.Index`` (building it costs more than the
        one-row frame it labels)."""
        return pd.Index(self.features)

    def score(self, values: np.ndarray, columns: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Scores (float64) and predictions (int64) of the rows of ``values``, whose columns
        are ``columns`` (a superset of this model's features, in any order).

        Raises:
            ModelContractError: the model's output lacks ``score`` or ``prediction``, or a
                score is not finite.
        """
        if columns == self.features:
            values = values.copy()  # the model may write into its input; the log reads it after
        else:  # a challenger may use a subset or another order
            values = values[:, [columns.index(f) for f in self.features]]
        read: Callable[[Any], tuple[np.ndarray, np.ndarray]] = _score_and_prediction
        if self.array_fn is not None:
            out, read = self.array_fn(values), _array_outputs
        else:
            out = self.predict_fn(pd.DataFrame(values, columns=self.columns))
        try:
            scores, predictions = read(out)
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise ModelContractError(
                f"model {self.name} v{self.version}: expected predict output with columns "
                f"score and prediction, got {type(out).__name__}"
            ) from exc
        if not np.isfinite(scores).all():
            raise ModelContractError(
                f"model {self.name} v{self.version}: expected finite scores, "
                f"got {scores[~np.isfinite(scores)][:3].tolist()}"
            )
        return scores, predictions


def _array_outputs(out: Any) -> tuple[np.ndarray, np.ndarray]:
    """``predict_array``'s ``(scores, predictions)`` as float64 and int64 vectors."""
    scores, predictions = out
    return np.asarray(scores, dtype=np.float64), np.asarray(predictions, dtype=np.int64)


def _score_and_prediction(out: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ``score`` (float64) and ``prediction`` (int64) columns of a predict output.

    A fresh one-row DataFrame pays ~40 µs for each first column access (a Series and its
    cache) and more to look columns up in its Index; one ``to_numpy`` of an all-numeric
    frame costs a fraction of that. Other outputs (a dict, a frame with text columns) are
    read column by column.
    """
    names = out.columns.tolist() if isinstance(out, pd.DataFrame) else []
    if "score" in names and "prediction" in names and len(set(names)) == len(names):
        score, prediction = names.index("score"), names.index("prediction")
        try:
            matrix = out.to_numpy(np.float64)
        except (ValueError, TypeError):
            matrix = None  # a non-numeric column: read the two we need on their own
        if matrix is not None and np.isfinite(matrix[:, prediction]).all():
            return matrix[:, score], matrix[:, prediction].astype(np.int64)
    return np.asarray(out["score"], dtype=np.float64), np.asarray(out["prediction"], dtype=np.int64)


def _python_model_predict(inner: Any) -> Callable[[pd.DataFrame], Any] | None:
    """``python_model.predict`` called as MLflow's ``_PythonModelPyfuncWrapper.predict`` calls
    it, when ``inner`` is that wrapper's method and it would pass a frame through as it is
    (the model's input type hint is a DataFrame or absent); else None."""
    wrapper: Any = getattr(inner, "__self__", None)
    if type(wrapper).__name__ != "_PythonModelPyfuncWrapper":
        return None
    try:
        from mlflow.models.signature import _is_context_in_predict_function_signature

        model, context = wrapper.python_model, wrapper.context
        hint = model.predict_type_hints.input
        parameters = inspect.signature(model.predict).parameters
        with_context = _is_context_in_predict_function_signature(parameters=parameters)
    except Exception:  # MLflow's internals moved: keep its own path
        return None
    if hint not in (None, pd.DataFrame):
        return None  # MLflow converts the frame for this hint (list of str or dicts, ...)
    kwargs = {"params": None} if "params" in parameters else {}
    if with_context:
        return lambda frame: model.predict(context, frame, **kwargs)
    return lambda frame: model.predict(frame, **kwargs)


@dataclass(frozen=True)
class Slots:
    """The champion (always set) and the challenger (optional) at one instant."""

    champion: LoadedModel
    challenger: LoadedModel | None = None


class ModelSlots:
    """The current :class:`Slots`; read ``current`` once per request."""

    def __init__(self, initial: Slots) -> None:
        self.current = initial
        self.swaps = 0
        self._lock = threading.Lock()  # serialises writers only; readers never wait

    def swap(self, alias: str, model: LoadedModel | None) -> Slots:
        """Replace the model under ``alias`` (None clears the challenger); returns the new pair."""
        with self._lock:
            if alias == CHAMPION:
                if model is None:
                    raise ValueError("champion slot: expected a model, got None")
                self.current = replace(self.current, champion=model)
            else:
                self.current = replace(self.current, challenger=model)
            self.swaps += 1
            return self.current


def _type_name(column_type: Any) -> str:
    return str(getattr(column_type, "name", column_type)).lower()


def signature_features(pyfunc: Any, name: str) -> tuple[str, ...]:
    """The named numeric input columns of ``pyfunc``'s signature.

    Raises:
        ModelContractError: no signature, unnamed inputs or a non-numeric input.
    """
    schema = pyfunc.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        raise ModelContractError(
            f"model {name}: expected a signature with named double inputs, got {schema}"
        )
    bad = [
        f"{n}:{t}"
        for n, t in zip(schema.input_names(), schema.input_types(), strict=True)
        if _type_name(t) not in _NUMERIC_TYPES
    ]
    if bad:
        raise ModelContractError(f"model {name}: expected numeric feature inputs, got {bad}")
    return tuple(str(n) for n in schema.input_names())


def signature_optional(pyfunc: Any) -> frozenset[str]:
    """The input columns ``pyfunc``'s signature marks as not required."""
    schema = pyfunc.metadata.get_input_schema()
    return frozenset(str(c.name) for c in schema.inputs if not getattr(c, "required", True))


def load_version(name: str, version: int, alias: str) -> LoadedModel:
    """Load version ``version`` of registered model ``name`` (MLflow must be configured).

    Loading by version, not by alias, means a concurrent alias move cannot mix versions.
    """
    import mlflow

    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    features = signature_features(pyfunc, name)
    return LoadedModel(
        name, int(version), alias, features, pyfunc, optional=signature_optional(pyfunc)
    )


def load_alias(config: ProjectConfig, name: str, alias: str) -> LoadedModel | None:
    """The version of ``name`` holding ``alias``, loaded; None if the alias is unset."""
    from finml import registry

    info = registry.by_alias(config, name, alias)
    return None if info is None else load_version(name, info.version, alias)


class AliasPoller:
    """A daemon thread that re-reads the aliases every ``interval`` seconds and swaps models.

    ``published`` maps each feature of the published request schema to its bound. A new
    champion must take the same features as the one the server started with; a challenger
    must need no feature the request schema lacks; and either must hold every value the
    schema accepts (its bounds, under ``feature_dtype``, at least the published ones). A
    model breaking that is refused and logged, never swapped in.
    """

    def __init__(
        self,
        config: ProjectConfig,
        slots: ModelSlots,
        published: dict[str, float],
        interval: float,
        feature_dtype: FeatureDtype = "float64",
    ) -> None:
        self.config, self.slots, self.interval = config, slots, interval
        self.published, self.feature_dtype = published, feature_dtype
        self.features = tuple(published)
        self.errors = 0
        self._refused: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="finml-alias-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception as exc:  # the registry may be briefly unavailable; keep serving
                self.errors += 1
                log.warning("alias_poll_failed", error=str(exc))

    def check(self) -> list[str]:
        """Compare both aliases with the loaded versions; swap what moved. Returns the
        aliases swapped."""
        from finml import registry

        swapped = []
        current = self.slots.current
        name = current.champion.name
        for alias, loaded in ((CHAMPION, current.champion), (CHALLENGER, current.challenger)):
            info = registry.by_alias(self.config, name, alias)
            if info is None:
                if alias == CHALLENGER and loaded is not None:
                    self.slots.swap(alias, None)
                    swapped.append(alias)
                continue
            if loaded is not None and loaded.version == info.version:
                continue
            if (alias, info.version) in self._refused:
                continue  # refused once; reloading it every poll would only repeat that
            model = load_version(name, info.version, alias)
            if not self._compatible(alias, model):
                self._refused.add((alias, info.version))
                continue
            self.slots.swap(alias, model)
            swapped.append(alias)
            log.info("model_swapped", model=name, alias=alias, version=model.version)
        return swapped

    def _compatible(self, alias: str, model: LoadedModel) -> bool:
        ok = (
            model.features == self.features
            if alias == CHAMPION
            else set(model.features) <= set(self.features)
        )
        limits = feature_bounds(model.types, self.feature_dtype)
        bounds = dict(zip(model.features, limits, strict=True))
        ok = ok and holds(bounds, self.published)
        if not ok:
            self.errors += 1
            log.error(
                "model_swap_refused",
                model=model.name,
                alias=alias,
                version=model.version,
                expected_features=self.published,
                got_features=bounds,
            )
        return ok
