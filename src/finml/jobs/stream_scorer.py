"""One account's streaming state, one micro-batch at a time: raw silver trades -> online
features -> the champion's probabilities -> decisions.

The state is what ``POST /decide`` keeps in memory -- the online features of each symbol
(:class:`~finml.features.online.OnlineFeatures`, the batch definitions) and the decision
engine's portfolios and correlation tracker -- so a stream decides as serving would. A
micro-batch's trades are taken in ``(ts, trade_id)`` order; the champion scores them in one
call; the engine decides each in turn. A trade already seen (same ``trade_id``) yields
nothing; a trade too late for the kept state yields ``NO_ACTION`` with the reason, so every
trade is accounted for. The state round-trips through :meth:`StreamScorer.dumps` /
:meth:`StreamScorer.loads` (the streaming job checkpoints it in its state store), and a
decision's id is derived from the account and the trade, so a replayed micro-batch yields
the same rows.

>>> scorer = StreamScorer(FeatureSettings(), DecisionPolicy(), account="streaming")
>>> rows = scorer.step(trades, model, RegimeView(None), run_id="q1", decided_at=now)
"""

from __future__ import annotations

import math
import pickle
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finml.errors import DataError, JobError
from finml.features.online import OnlineFeatures, OnlineRow, RawTrade
from finml.serving.decisions import Action, Decision, DecisionEngine, Signal
from finml.serving.decisions.records import DECISIONS, decision_row

if TYPE_CHECKING:
    from finml.features.settings import FeatureSettings
    from finml.serving.decide import RegimeView
    from finml.serving.decisions import DecisionPolicy
    from finml.serving.models import LoadedModel

SOURCE = "streaming"
STATE_FORMAT = 1  # bump when the pickled state's shape changes
_IDS = uuid.UUID("6f1c1d55-5a43-4d7e-9f2b-2f0e0f6a7c11")  # namespace of streaming decision ids
TRADE_COLUMNS = ("symbol", "ts", "trade_id", "price", "volume")


class StreamScorer:
    """The per-account state of the streaming scoring job (see the module docstring)."""

    def __init__(self, settings: FeatureSettings, policy: DecisionPolicy, account: str):
        self.account = account
        self.online = OnlineFeatures(settings)
        self.engine = DecisionEngine(policy)
        self.seen = 0  # trades taken (duplicates not counted)

    def dumps(self) -> bytes:
        return pickle.dumps((STATE_FORMAT, self), protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def loads(blob: bytes) -> StreamScorer:
        """The scorer :meth:`dumps` wrote.

        Raises:
            JobError: the state was written by another state format (start the query on a
                new checkpoint).
        """
        version, scorer = pickle.loads(blob)  # noqa: S301 -- our own checkpointed state
        if version != STATE_FORMAT:
            raise JobError(
                f"streaming state: expected format {STATE_FORMAT}, got {version}; "
                "start the query on a new checkpoint"
            )
        return scorer  # type: ignore[no-any-return]

    def step(
        self,
        trades: pd.DataFrame,
        model: LoadedModel,
        regimes: RegimeView,
        *,
        run_id: str,
        decided_at: datetime,
    ) -> pd.DataFrame:
        """The decisions (columns of :data:`DECISIONS`) of one micro-batch of ``trades``
        (silver rows: symbol, ts, trade_id, price, volume)."""
        missing = sorted(set(TRADE_COLUMNS) - set(trades.columns))
        if missing:
            raise DataError(f"stream batch: expected columns {missing}, got {list(trades.columns)}")
        ordered = trades.sort_values(["ts", "trade_id"], kind="stable")
        taken: list[tuple[Any, OnlineRow | str]] = []
        for trade in ordered.itertuples(index=False):
            try:
                online = self.online.update(_raw(trade))
            except DataError as exc:  # too late for the kept state, or not a valid trade
                taken.append((trade, f"not scored: {exc}"))
                continue
            if not online.duplicate:
                taken.append((trade, online))
        self.seen += len(taken)
        scores = _scores(model, [r for _, r in taken if not isinstance(r, str)])
        out, scored = [], iter(scores)
        for trade, row in taken:
            probability = None if isinstance(row, str) else next(scored)
            out.append(self._decide(trade, row, probability, model, regimes, run_id, decided_at))
        return pd.DataFrame(out, columns=DECISIONS.names)

    def _decide(self, trade, row, probability, model, regimes, run_id, decided_at):
        ts = _aware(trade.ts)
        day = ts.date() if isinstance(row, str) else row.trade_date
        now, ahead = regimes.before(trade.symbol, day)
        if isinstance(row, str) or isinstance(probability, str):
            reason = row if isinstance(row, str) else str(probability)
            equity = self.engine.portfolio(self.account).equity
            decision = Decision(Action.NO_ACTION, reason, self.account, trade.symbol, equity=equity)
            probability = None
        else:
            log_return = row.features.get("log_return")
            signal = Signal(trade.symbol, ts, float(trade.price), log_return, probability,
                            now, ahead, self.account)  # fmt: skip
            decision = self.engine.decide(signal)
        inputs = {
            "decision_id": str(uuid.uuid5(_IDS, f"{self.account}|{trade.trade_id}")),
            "run_id": run_id,
            "source": SOURCE,
            "account": self.account,
            "symbol": trade.symbol,
            "trade_id": trade.trade_id,
            "ts": ts,
            "price": float(trade.price),
            "probability": probability,
            "model_name": model.name,
            "model_version": str(model.version),
        }
        return decision_row(inputs, decision.as_dict(), (now, ahead), decided_at)


def _scores(model: LoadedModel, rows: list[OnlineRow]) -> list[float | str]:
    """The champion's probability of each row, in one call; where the champion refuses
    null features (FinML's models impute them), why there is none for the rows with some."""
    if not rows:
        return []
    values = np.array(
        [[_finite_or_nan(r.features.get(f)) for f in model.features] for r in rows], dtype=float
    )
    complete = ~np.isnan(values).any(axis=1)
    try:
        scores, _ = model.score(values, model.features)
        return [float(s) for s in scores]
    except ValueError:
        if complete.all():
            raise
    out: list[float | str] = ["warming up: the champion cannot score null features"] * len(rows)
    if complete.any():
        scores, _ = model.score(values[complete], model.features)
        for i, s in zip(np.flatnonzero(complete), scores, strict=True):
            out[i] = float(s)
    return out


def _raw(trade: Any) -> RawTrade:
    return RawTrade(trade.symbol, _aware(trade.ts), float(trade.price), float(trade.volume),
                    trade.trade_id)  # fmt: skip


def _aware(ts: Any) -> datetime:
    moment = pd.Timestamp(ts)
    moment = moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)
    return moment.to_pydatetime()  # type: ignore[no-any-return]


def _finite_or_nan(value: float | None) -> float:
    return math.nan if value is None or not math.isfinite(value) else float(value)
