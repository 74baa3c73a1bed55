"""Replay A/B: where no live traffic reaches the challenger, replay the most recent labelled
window through both registered versions, as a split would have routed it.

The window is the latest ``days`` complete trading days of ``trade_features`` after the
challenger's training window (a day is complete when ``min_label_coverage`` of its feature
rows have a label in ``trade_labels``). Each trade goes to one arm by the serving router's
stable hash of its ``trade_id`` with the canary share, each arm is scored by its own pinned
version (``models:/<name>/<version>``) and the arms' confusions go through the existing
significance test (:func:`finml.serving.abtest.compare`). One ``ab_tests`` row is written.

Policy (:attr:`ReplayAB.promote`): the holdout gate has already shown a significant
improvement, so the A/B only has to not contradict it -- the challenger is promoted unless
its F1 at its operating point is significantly worse than the champion's (one-sided, at
``alpha`` of ``serving.ab_report``; :func:`finml.serving.abtest.f1_difference`). F1, not
precision or recall alone: after a market shift the old champion flags twice the trades, so
its recall beats a retrained challenger's while its precision halves (measured in the 30-day
replay: champion precision 0.42 / recall 0.96, challenger 1.00 / 0.73; F1 0.59 vs 0.84).
The precision and recall tests are still reported in ``ab_tests``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa

from finml.log import get_logger
from finml.models.lifecycle import DATA_WINDOW, window_end
from finml.serving.abtest import (
    AB_TESTS_SCHEMA,
    Comparison,
    compare,
    confusion_of,
    f1_difference,
)
from finml.serving.routing import CHALLENGER, route
from finml.serving.settings import ABSettings

if TYPE_CHECKING:
    from finml.models.settings import ReplayABSettings
    from finml.runtime.delta import DeltaTables
    from finml.serving.settings import ServingSettings

log = get_logger("models.replay_ab")
DAY, EXCHANGE_TZ = "_trade_date", "America/New_York"


def complete_days(
    rows: pd.DataFrame, labelled: pd.Series, *, coverage: float, after: date | None, days: int
) -> list[date]:
    """The latest ``days`` trading days of ``rows`` (``_trade_date`` per trade) whose share
    of labelled trades (``labelled``: bool per row) reaches ``coverage``, later than
    ``after``; oldest first. Empty when none qualifies."""
    share = labelled.astype(np.float64).groupby(rows[DAY]).mean()
    ok = sorted(d for d, s in share.items() if s >= coverage and (after is None or d > after))
    return ok[-days:]


def challenger_arm(trade_ids: pd.Series, percent: float) -> np.ndarray:
    """True where the serving router sends ``trade_id`` to the challenger at ``percent``."""
    ab = ABSettings(mode="split", challenger_percent=percent)
    return np.fromiter(
        (route(str(t), ab, True) == CHALLENGER for t in trade_ids), bool, len(trade_ids)
    )


@dataclass(frozen=True)
class ReplayWindow:
    days: tuple[date, ...]
    frame: pd.DataFrame  # the window's labelled trades: features, trade_id, label
    features_version: int
    labels_version: int


def load_window(
    tables: DeltaTables, settings: ReplayABSettings, *, after: date | None
) -> ReplayWindow | None:
    """The replay window's labelled trades, or None when a table is missing or no day
    qualifies."""
    features, labels = tables.table(settings.features_table), tables.table(settings.labels_table)
    if not features.exists() or not labels.exists():
        return None
    features_version, labels_version = features.version(), labels.version()
    rows = features.to_arrow(version=features_version).to_pandas()
    truth = labels.to_arrow(version=labels_version).to_pandas()
    if DAY not in rows.columns or rows.empty or truth.empty:
        return None
    truth = truth[["trade_id", "label"]].dropna().drop_duplicates("trade_id", keep="last")
    rows[DAY] = pd.to_datetime(rows[DAY]).dt.date
    has_label = rows["trade_id"].isin(truth["trade_id"])
    days = complete_days(
        rows, has_label, coverage=settings.min_label_coverage, after=after, days=settings.days
    )
    if not days:
        return None
    window = rows[rows[DAY].isin(days)].drop(columns=["label"], errors="ignore")
    frame = window.merge(truth, on="trade_id", how="inner").sort_values("trade_id")
    return ReplayWindow(tuple(days), frame.reset_index(drop=True), features_version, labels_version)


def training_end_day(tags: dict[str, str]) -> date | None:
    """The trading day (New York) of the last training row (tag ``finml.data_window``)."""
    end = window_end(tags, DATA_WINDOW)
    return end.astimezone(ZoneInfo(EXCHANGE_TZ)).date() if end is not None else None


def score_arm(name: str, version: int, frame: pd.DataFrame) -> np.ndarray:
    """0/1 predictions of registered version ``version`` (pinned URI) on ``frame``."""
    import mlflow

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    schema = model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        columns = list(schema.input_names())
    else:
        from finml.training_set import feature_columns

        columns = feature_columns(list(frame.columns))
    inputs = frame[columns].astype(np.float64).reset_index(drop=True)
    return model.predict(inputs)["prediction"].to_numpy(np.int64)


@dataclass(frozen=True)
class ReplayAB:
    test_id: str
    window: ReplayWindow
    comparison: Comparison
    row: dict[str, Any]

    @property
    def f1(self) -> tuple[float, float]:
        """Challenger minus champion F1, and its one-sided upper bound at ``alpha``."""
        c = self.comparison
        return f1_difference(c.champion, c.challenger, c.alpha)

    @property
    def promote(self) -> bool:
        """The policy: promote unless the challenger's F1 is significantly worse."""
        return self.f1[1] >= 0

    @property
    def reason(self) -> str:
        c = self.comparison
        difference, bound = self.f1
        verdict = "F1 significantly worse" if not self.promote else "F1 not worse"
        return (
            f"replay A/B {self.test_id} on {', '.join(map(str, self.window.days))} "
            f"({c.champion.n} champion / {c.challenger.n} challenger trades): "
            f"{c.decision}, {c.reason}; challenger F1 {difference:+.3f} vs champion "
            f"(upper bound {bound:+.3f}): {verdict}"
        )


def run_replay_ab(
    tables: DeltaTables,
    settings: ReplayABSettings,
    serving: ServingSettings,
    name: str,
    champion: int,
    challenger: int,
    *,
    after: date | None = None,
) -> ReplayAB | None:
    """Replay the window through ``champion`` and ``challenger`` (versions of ``name``),
    compare them and append the ``ab_tests`` row; None when there is no window.

    Raises:
        MlflowException: a version cannot be loaded.
    """
    window = load_window(tables, settings, after=after)
    if window is None:
        return None
    percent = settings.challenger_percent or serving.ab.challenger_percent
    frame = window.frame
    to_challenger = challenger_arm(frame["trade_id"], percent)
    arms = {}
    for variant, version, mask in (
        ("champion", champion, ~to_challenger),
        ("challenger", challenger, to_challenger),
    ):
        arm = frame[mask]
        predicted = score_arm(name, version, arm) if len(arm) else np.empty(0, np.int64)
        arms[variant] = confusion_of(variant, str(version), arm["label"], predicted)
    rs = serving.ab_report
    comparison = compare(arms["champion"], arms["challenger"], rs.metric, rs.alpha, rs.min_samples)
    test_id = uuid.uuid4().hex
    result = ReplayAB(test_id, window, comparison, {})
    row = {
        "test_id": test_id,
        "analyzed_at": datetime.now(UTC),
        "model_name": name,
        "inference_log_version": None,
        "labels_table": str(tables.name(settings.labels_table)),
        **comparison.as_row(),
        "reason": result.reason,
    }
    tables.table(rs.table).append(pa.Table.from_pylist([row], schema=AB_TESTS_SCHEMA))
    log.info("replay_ab", model=name, champion=champion, challenger=challenger,
             decision=comparison.decision, promote=result.promote)  # fmt: skip
    return ReplayAB(test_id, window, comparison, row)
