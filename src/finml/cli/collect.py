"""``finml collect finnhub`` and ``finml collect alphavantage``: live sources -> landing zone."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from finml.cli.common import State, console, emit_json

if TYPE_CHECKING:
    from finml.config_collectors import CollectorSettings
    from finml.sources.finnhub import FinnhubReport

collect_app = typer.Typer(
    help="Collect live market data into the landing zone (API keys from the environment).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(collect_app, name="collect")
    collect_app.command(
        "finnhub", epilog="Example: finml collect finnhub --symbols AAPL,MSFT --duration 5m"
    )(finnhub)
    collect_app.command(
        "alphavantage",
        epilog="Example: finml collect alphavantage --symbols AAPL,MSFT --function daily",
    )(alphavantage)


SettingsFile = Annotated[
    Path | None,
    typer.Option(
        "--settings",
        help="YAML file shaped like the config's collectors: section (replaces it).",
        exists=True,
        dir_okay=False,
    ),
]


def _symbols(text: str | None) -> list[str] | None:
    return [s.strip().upper() for s in text.split(",") if s.strip()] if text else None


def _settings(path: Path | None) -> CollectorSettings | None:
    if path is None:
        return None
    import yaml

    from finml.config_collectors import collector_settings
    from finml.errors import ConfigError

    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"settings file {path}: expected valid YAML, got: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("collectors"), dict):
        data = data["collectors"]  # a whole project-config-like file is fine too
    return collector_settings(data)


def finnhub(
    ctx: typer.Context,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated tickers.")] = None,
    duration: Annotated[
        str, typer.Option(help="How long to run: 30s, 5m, 1h (Ctrl-C stops early).")
    ] = "5m",
    url: Annotated[str | None, typer.Option(help="WebSocket URL (default from config).")] = None,
    flush_interval: Annotated[
        float | None, typer.Option(help="Seconds before buffered trades are landed.")
    ] = None,
    flush_size: Annotated[
        int | None, typer.Option(help="Trades that trigger a flush.", min=1)
    ] = None,
    settings: SettingsFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Stream Finnhub trades (FINNHUB_API_KEY) into <landing>/trades as JSON lines."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from finml.jobs.collect import collect_finnhub

    state: State = ctx.obj
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
    ) as bar:
        task = bar.add_task("finnhub: connecting", total=None)

        def progress(report: FinnhubReport) -> None:
            bar.update(
                task,
                description=f"finnhub: {report.trades:,} trades, {report.rejected:,} rejected, "
                f"{len(report.files)} file(s), {report.reconnects} reconnect(s)",
            )

        report = collect_finnhub(
            state.config,
            _symbols(symbols),
            duration,
            settings=_settings(settings),
            on_progress=progress,
            handle_signals=True,
            url=url,
            flush_interval_s=flush_interval,
            flush_max_trades=flush_size,
        )
    if as_json:
        emit_json({**report.__dict__, "reasons": dict(report.reasons)})
        return
    console.print(
        f"finnhub: {report.trades:,} trades in {len(report.files)} file(s), "
        f"{report.rejected:,} rejected, {report.pings:,} pings, {report.reconnects} reconnect(s)"
        f" -> {state.config.landing_dir / 'trades'}"
    )


def alphavantage(
    ctx: typer.Context,
    symbols: Annotated[str | None, typer.Option(help="Comma-separated tickers.")] = None,
    function: Annotated[
        str, typer.Option(help="daily or intraday (TIME_SERIES_DAILY / _INTRADAY).")
    ] = "daily",
    interval: Annotated[
        str | None, typer.Option(help="Intraday bar size: 1min 5min 15min 30min 60min.")
    ] = None,
    outputsize: Annotated[str | None, typer.Option(help="compact (100 bars) or full.")] = None,
    base_url: Annotated[str | None, typer.Option(help="API URL (default from config).")] = None,
    settings: SettingsFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Fetch Alpha Vantage OHLCV (ALPHAVANTAGE_API_KEY) into <landing>/bars as CSV."""
    from finml.errors import CollectorError
    from finml.jobs.collect import collect_alphavantage

    functions = {"daily": "TIME_SERIES_DAILY", "intraday": "TIME_SERIES_INTRADAY"}
    state: State = ctx.obj
    with nullcontext() if as_json else console.status("alphavantage: fetching"):
        report = collect_alphavantage(
            state.config,
            _symbols(symbols),
            functions.get(function.lower(), function.upper()),
            settings=_settings(settings),
            interval=interval,
            outputsize=outputsize,
            base_url=base_url,
        )
    if as_json:
        emit_json(report.__dict__)
    else:
        for symbol, rows in sorted(report.rows.items()):
            console.print(f"alphavantage {symbol}: {rows:,} bars")
        console.print(
            f"{report.requests} request(s), {report.retries} retried, {report.throttled} "
            f"throttled, waited {report.waited_s:.1f} s -> {state.config.landing_dir / 'bars'}"
        )
    if report.failures:
        raise CollectorError(
            "alphavantage: expected every symbol landed, got failures: "
            + "; ".join(f"{s}: {why}" for s, why in sorted(report.failures.items()))
        )
