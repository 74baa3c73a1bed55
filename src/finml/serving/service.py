"""The scoring service behind the HTTP layer: route records, score, log, shadow.

Kept free of FastAPI so it can be tested and benchmarked directly. A call reads
``slots.current`` exactly once, so every record of a request is scored by the models that
were current when it started, whatever the alias poller swaps meanwhile.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finml.log import get_logger
from finml.serving.inference_log import LogBatch
from finml.serving.log_writer import InferenceLogWriter
from finml.serving.models import LoadedModel, ModelSlots
from finml.serving.routing import CHALLENGER, CHAMPION, SHADOW, route, splitting
from finml.serving.settings import ServingSettings

if TYPE_CHECKING:
    from finml.serving.metrics import ServingMetrics
    from finml.serving.records import Records

log = get_logger("serving.service")


class ScoringService:
    """Routes, scores and logs records; owns the shadow executor.

    ``features`` is the column order of every :class:`~finml.serving.records.Records`
    (the published request schema, i.e. the champion's signature at start).
    """

    def __init__(
        self,
        slots: ModelSlots,
        writer: InferenceLogWriter,
        settings: ServingSettings,
        features: tuple[str, ...],
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.slots, self.writer, self.settings = slots, writer, settings
        self.features, self.metrics = features, metrics
        self.shadow_errors = 0
        # One worker: shadow scoring never competes with itself, only queues.
        self._shadow = ThreadPoolExecutor(1, thread_name_prefix="finml-shadow")

    def score(self, request_id: str, records: Records) -> list[dict[str, Any]]:
        """Score ``records`` (one request), log every prediction, queue shadow scoring.

        Returns one ``{score, prediction, model_name, model_version, variant}`` per record,
        in order.
        """
        current = self.slots.current
        has_challenger = current.challenger is not None
        out: list[dict[str, Any]] = [{}] * len(records)
        for variant, indices in self._groups(records, has_challenger).items():
            model = current.challenger if variant == CHALLENGER else current.champion
            assert model is not None  # route() only picks the challenger when one is loaded
            chosen = records if indices is None else records.take(indices)
            scores, predictions, latency = self._score(model, chosen)
            name, version = model.name, str(model.version)
            for i, s, p in zip(
                range(len(records)) if indices is None else indices,
                scores,
                predictions,
                strict=True,
            ):
                out[i] = {
                    "score": s,
                    "prediction": p,
                    "model_name": name,
                    "model_version": version,
                    "variant": variant,
                }
            self._log(request_id, model, variant, chosen, scores, predictions, latency)
        if self.settings.ab.mode == SHADOW and current.challenger is not None:
            self._shadow.submit(self._score_shadow, current.challenger, request_id, records)
        return out

    def _groups(self, records: Records, has_challenger: bool) -> dict[str, list[int] | None]:
        """Record indices per variant; None stands for "all records" (no split to make)."""
        ab = self.settings.ab
        if not splitting(ab, has_challenger):
            return {CHAMPION: None}
        groups: dict[str, list[int]] = {}
        for i, key in enumerate(records.keys()):
            groups.setdefault(route(key, ab, has_challenger), []).append(i)
        return {variant: indices for variant, indices in groups.items()}

    def close(self) -> None:
        """Finish queued shadow work (its rows must reach the log before the last flush)."""
        self._shadow.shutdown(wait=True)

    def _score(self, model: LoadedModel, records: Records) -> tuple[list[float], list[int], float]:
        """Scores, predictions and the per-record model latency in milliseconds."""
        started = time.perf_counter()
        scores, predictions = model.score(records.values, self.features)
        latency = (time.perf_counter() - started) * 1000 / max(len(records), 1)
        return scores.tolist(), predictions.tolist(), latency

    def _score_shadow(self, model: LoadedModel, request_id: str, records: Records) -> None:
        try:
            scores, predictions, latency = self._score(model, records)
        except Exception as exc:  # a broken challenger must never hurt the champion's path
            self.shadow_errors += 1
            log.warning("shadow_scoring_failed", version=model.version, error=str(exc))
            return
        self._log(request_id, model, SHADOW, records, scores, predictions, latency)

    def _log(
        self,
        request_id: str,
        model: LoadedModel,
        variant: str,
        records: Records,
        scores: list[float],
        predictions: list[int],
        latency_ms: float,
    ) -> None:
        self.writer.log(
            LogBatch(
                request_id,
                datetime.now(UTC),
                model.name,
                model.version,
                variant,
                self.features,
                records,
                scores,
                predictions,
                latency_ms,
            )
        )
        if self.metrics is not None:
            self.metrics.count_predictions(variant, model.version, len(records))
