"""``finml features build`` and ``finml regimes``: features, training sets, market regimes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from finml.cli.common import State, console, fail

features_app = typer.Typer(
    help="Trade features, the feature store and the train/test sets.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(features_app, name="features")
    features_app.command("build", epilog="Example: finml features build")(build)
    app.command(epilog="Example: finml regimes --input ~/Downloads/daily_IBM.csv --symbol IBM")(
        regimes
    )


def build(ctx: typer.Context) -> None:
    """Compute per-trade features from silver, MERGE them into the feature store and write
    point-in-time train_set / test_set (time-based split)."""
    from finml.errors import FinmlError
    from finml.jobs.features import build_features

    state: State = ctx.obj
    with console.status("building features (Spark window functions)..."):
        try:
            report = build_features(state.config, state.spark(), state.tables(with_spark=True))
        except FinmlError as exc:
            fail(str(exc))
    report.print(console)


def regimes(
    ctx: typer.Context,
    input_csv: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="OHLCV CSV in Alpha Vantage layout (timestamp,open,high,low,close,volume) "
            "instead of gold_bars_1m.",
        ),
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Ticker of the CSV (default: the file name).")
    ] = None,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Do not log/register regime_model in MLflow.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            help="Also write the per-day rows (threshold regime, HMM regime, filtered and "
            "smoothed probabilities per regime) to this CSV.",
        ),
    ] = None,
) -> None:
    """Fit the Normal/Stress/Crisis regimes -- threshold labels with their Markov chain (the
    baseline) and the regime HMM (labels, filtered and smoothed probabilities) -- write
    regime_states and register regime_model as challenger (promoted to champion only if its
    held-out next-regime log-likelihood beats the champion's); prints the transition matrix,
    stationary distribution, spectral gap, sojourn times and the gate decision."""
    from finml.errors import FinmlError
    from finml.jobs.regimes import regime_rows, run_regimes

    state: State = ctx.obj
    with console.status("fitting the regime model..."):
        try:
            report = run_regimes(
                state.config,
                None,
                state.tables(),
                input_csv,
                symbol=symbol,
                log_model=not no_model,
            )
        except FinmlError as exc:
            fail(str(exc))
    report.print(console)
    if output is not None:
        regime_rows(report).to_csv(output, index=False)
        console.print(f"per-day regimes and probabilities: {output}")
