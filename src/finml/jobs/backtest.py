"""The decision backtest: the decision engine replayed over the scored history.

Every row of ``predictions`` of one model version (default: the ``@champion``'s, else the
version with the most rows), in ``(ts, trade_id)`` order, becomes a
:class:`~finml.serving.decisions.Signal`: its price and, as the fill, the median price of
the symbol's next three trades (``silver_trades``; an anomalous print is no price anyone
could trade at, and a fill at the next print alone let a fat-finger print book a tenfold
"profit"), last log return
(``trade_features``), the model's probability, and the regime model's view known before the
trade's New-York day (the previous trading day's filtered probabilities and its forecast of
the next day, from ``regime_states``). The engine decides with the ``decisions`` policy on a
fresh ``backtest`` account, filled at the trade prices. Each decision is appended to the Delta
table ``decisions`` (``source`` = ``backtest``, the run id); the run's business metrics (PnL,
win rate, profit factor, maximum drawdown, decisions per hour, ...) and policy go to the
MLflow experiment ``finml-decisions``.

>>> report = run_backtest(config, tables)  # doctest: +SKIP
>>> report.metrics["profit_factor"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from finml.errors import DataError
from finml.log import get_logger
from finml.serving.decisions import Action, DecisionEngine, DecisionPolicy, Signal
from finml.serving.decisions.records import DECISIONS, TABLE, decision_row

if TYPE_CHECKING:
    from finml.config import ProjectConfig
    from finml.runtime.delta import DeltaTables

log = get_logger("jobs.backtest")

EXPERIMENT = "finml-decisions"
ACCOUNT = "backtest"
FILL_TRADES = 3  # an order fills at the median price of the symbol's next trades
_NOW = ("normal", "stress", "crisis")
_REGIME_COLUMNS = {
    **{f"p_filtered_{r}": f"now_{r}" for r in _NOW},
    **{f"p_next_{r}": f"next_{r}" for r in _NOW},
}


@dataclass
class BacktestReport:
    """One backtest: its run id (MLflow), the version replayed and the business metrics."""

    run_id: str
    model_name: str
    model_version: str
    metrics: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        m = self.metrics
        counts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return (
            f"backtest of {self.model_name} v{self.model_version}: "
            f"{int(m['decisions']):,} decisions ({counts}); "
            f"PnL {m['pnl']:,.2f}, win rate {m['win_rate']:.3f}, profit factor "
            f"{m['profit_factor']:.3f}, max drawdown {m['max_drawdown']:.4f}, "
            f"{m['decisions_per_hour']:.1f} decisions/h"
        )


def run_backtest(
    config: ProjectConfig,
    tables: DeltaTables,
    *,
    version: str | None = None,
    policy: DecisionPolicy | None = None,
) -> BacktestReport:
    """Replay the decision engine over ``predictions`` of ``version`` (see the module
    docstring); append the decisions to ``decisions`` and log the run to MLflow.

    Raises:
        TableNotFound: ``predictions`` or ``silver_trades`` is missing.
        DataError: no prediction of ``version``, or no price for its trades.
    """
    from finml import registry

    policy = policy or DecisionPolicy.from_config(config)
    name = registry.model_name(config, registry.ANOMALY_MODEL)
    signals, version = _signals(config, tables, name, version)
    engine = DecisionEngine(policy)
    run_id = uuid.uuid4().hex
    rows, now = [], datetime.now(UTC)
    for row in signals.itertuples(index=False):
        decision = engine.decide(_signal(row))
        rows.append(_row(row, decision.as_dict(), run_id, name, version, now))
    book = engine.portfolio(ACCOUNT)
    counts = {str(a): sum(r["action"] == a for r in rows) for a in Action}
    metrics = _metrics(book, policy, rows, signals)
    report = BacktestReport(run_id, name, version, metrics, counts)
    report.run_id = _log_run(config, report, policy)
    for r in rows:
        r["run_id"] = report.run_id
    tables.table(TABLE).append(pa.Table.from_pylist(rows, DECISIONS), schema_evolution=True)
    log.info("backtest_done", version=version, **{k: round(v, 4) for k, v in metrics.items()})
    return report


def _signals(
    config: ProjectConfig, tables: DeltaTables, name: str, version: str | None
) -> tuple[pd.DataFrame, str]:
    """The scored trades of ``version`` with price, last return and the regime view."""
    frames = {t: _frame(tables, t) for t in ("predictions", "silver_trades")}
    scored = frames["predictions"]
    scored = scored[scored["model_name"] == name].astype({"model_version": str})
    version = version or _default_version(config, name, scored)
    scored = scored[scored["model_version"] == str(version)]
    if scored.empty:
        raise DataError(f"table predictions: expected rows of {name} v{version}, got none")
    prices = _next_prices(frames["silver_trades"])
    signals = scored[["trade_id", "symbol", "ts", "score"]].merge(prices, on="trade_id")
    if signals.empty:
        raise DataError(f"table silver_trades: expected the prices of {len(scored)} scored trades")
    features = tables.table("trade_features")
    if features.exists():
        returns = features.to_arrow().select(["trade_id", "log_return"]).to_pandas()
        signals = signals.merge(returns.drop_duplicates("trade_id"), on="trade_id", how="left")
    else:
        signals["log_return"] = np.nan
    signals = signals.sort_values(["ts", "trade_id"], kind="stable").reset_index(drop=True)
    states = tables.table("regime_states")
    if states.exists():
        from finml.regimes.as_features import previous_day_posteriors

        signals = previous_day_posteriors(
            signals, states.to_arrow().to_pandas(), columns=_REGIME_COLUMNS
        )
    return signals, str(version)


def _next_prices(silver: pd.DataFrame) -> pd.DataFrame:
    """Each trade's price and its fill: the median price of the symbol's next
    :data:`FILL_TRADES` trades (one bad print cannot set it; its own price at the end)."""
    trades = silver[["trade_id", "symbol", "ts", "price"]].drop_duplicates("trade_id")
    trades = trades.sort_values(["symbol", "ts", "trade_id"], kind="stable")
    by_symbol = trades.groupby("symbol", sort=False)["price"]
    ahead = np.column_stack(
        [by_symbol.shift(-k).to_numpy(float) for k in range(1, FILL_TRADES + 1)]
    )
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the symbol's last trade: all NaN
        fill = np.nanmedian(ahead, axis=1)
    fill = np.where(np.isnan(fill), trades["price"].to_numpy(float), fill)
    return trades.assign(fill_price=fill)[["trade_id", "price", "fill_price"]]


def _frame(tables: DeltaTables, name: str) -> pd.DataFrame:
    return tables.require(name).to_arrow().to_pandas()


def _default_version(config: ProjectConfig, name: str, scored: pd.DataFrame) -> str:
    from finml import registry

    info = registry.by_alias(config, name, registry.CHAMPION)
    champion = str(info.version) if info is not None else ""
    versions = scored["model_version"].value_counts()
    if champion in versions.index:
        return champion
    if versions.empty:
        raise DataError(f"table predictions: expected rows of {name}, got none")
    return str(versions.index[0])


def _signal(row: Any) -> Signal:
    def regime(prefix: str) -> dict[str, float]:
        values = {r.capitalize(): getattr(row, f"{prefix}_{r}", math.nan) for r in _NOW}
        return {k: float(v) for k, v in values.items() if v is not None and not math.isnan(v)}

    ret = row.log_return
    return Signal(
        row.symbol,
        pd.Timestamp(row.ts).to_pydatetime(),
        float(row.price),
        None if ret is None or math.isnan(ret) else float(ret),
        float(row.score),
        regime=regime("now"),
        next_regime=regime("next"),
        account=ACCOUNT,
        fill_price=float(row.fill_price),
    )


def _row(row: Any, d: dict[str, Any], run_id: str, name: str, version: str, now: datetime):
    signal = _signal(row)
    inputs = {
        "decision_id": uuid.uuid4().hex,
        "run_id": run_id,
        "source": "backtest",
        "account": ACCOUNT,
        "symbol": row.symbol,
        "trade_id": row.trade_id,
        "ts": pd.Timestamp(row.ts).to_pydatetime(),
        "price": float(row.fill_price),  # where the decision filled
        "probability": float(row.score),
        "model_name": name,
        "model_version": version,
    }
    return decision_row(inputs, d, (signal.regime, signal.next_regime), now)


def _metrics(book, policy: DecisionPolicy, rows: list[dict], signals: pd.DataFrame):
    closed = book.wins + book.losses
    span = pd.to_datetime(signals["ts"]).agg(["min", "max"])
    hours = max((span["max"] - span["min"]).total_seconds() / 3600, 1e-9)
    pnl = book.equity - policy.initial_equity
    return {
        "decisions": float(len(rows)),
        "positions_opened": float(sum(r["action"] == Action.TAKE_ACTION for r in rows)),
        "positions_closed": float(closed),
        "pnl": pnl,
        "return": pnl / policy.initial_equity,
        "win_rate": book.wins / closed if closed else 0.0,
        "profit_factor": book.gross_profit / book.gross_loss if book.gross_loss else 0.0,
        "max_drawdown": book.max_drawdown,
        "decisions_per_hour": len(rows) / hours,
        "final_equity": book.equity,
    }


def _log_run(config: ProjectConfig, report: BacktestReport, policy: DecisionPolicy) -> str:
    import mlflow

    from finml import registry

    experiment_id = registry.configure(config, EXPERIMENT)
    with mlflow.start_run(run_name="backtest", experiment_id=experiment_id) as run:
        mlflow.set_tags(
            {"finml.model_name": report.model_name, "finml.model_version": report.model_version}
        )
        flat = policy.model_dump()
        weights = flat.pop("risk_weights")
        mlflow.log_params({**flat, **{f"risk_weight_{k}": v for k, v in weights.items()}})
        mlflow.log_metrics(report.metrics)
        mlflow.log_dict(report.counts, "decision_counts.json")
        return run.info.run_id
