"""``finml serve``, ``finml score``, ``finml ab-report``: the champion in real time and batch."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console


def register(app: typer.Typer) -> None:
    app.command(
        epilog="Example: finml serve --port 8000 --ab-mode shadow   (bearer token: FINML_API_TOKEN)"
    )(serve)
    app.command(epilog="Example: finml score --source test_set")(score)
    app.command("ab-report", epilog="Example: finml ab-report --labels test_set")(ab_report)


def _settings(state: State, **overrides: Any) -> Any:
    """The config's serving section with command-line ``overrides`` (None ignored)."""
    from finml.serving.settings import ServingSettings

    base = ServingSettings.from_config(state.config).model_dump()
    ab = overrides.pop("ab", {})
    base["ab"].update({k: v for k, v in ab.items() if v is not None})
    base.update({k: v for k, v in overrides.items() if v is not None})
    return ServingSettings.from_section(base)


TrafficFromBundle = Annotated[
    str | None,
    typer.Option(
        help="Split as this bundle target's serving endpoint routes (e.g. serving; "
        "variables from --bundle-var or BUNDLE_VAR_*).",
    ),
]
BundleVar = Annotated[list[str] | None, typer.Option(help="name=value for --traffic-from-bundle.")]
TrafficFromEndpoint = Annotated[
    bool, typer.Option(help="Split as the local endpoint (finml endpoint promote's state).")
]


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=0, max=65535, help="Port (default 8000).")] = None,
    poll_seconds: Annotated[
        float | None, typer.Option(min=0.1, help="Seconds between alias checks (hot swap).")
    ] = None,
    ab_mode: Annotated[
        str | None, typer.Option(help="off | split | shadow (challenger routing).")
    ] = None,
    challenger_percent: Annotated[
        float | None, typer.Option(min=0, max=100, help="Share of symbols sent to the challenger.")
    ] = None,
    traffic_from_bundle: TrafficFromBundle = None,
    bundle_var: BundleVar = None,
    traffic_from_endpoint: TrafficFromEndpoint = False,
    flush_seconds: Annotated[
        float | None, typer.Option(min=0.01, help="Inference-log flush interval.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    decide: Annotated[
        bool,
        typer.Option(
            "--decide/--no-decide",
            help="Serve POST /decide: raw trades -> online features -> decisions (warms its "
            "online state from silver_trades at start).",
        ),
    ] = True,
) -> None:
    """Serve the champion over REST (predict, batch, models, metrics, health, ready, and
    decide, decide/batch unless --no-decide).

    Auth: a bearer token from FINML_API_TOKEN (unset: open, with a warning). The MLOps API
    under /mlops takes tokens with roles from FINML_MLOPS_READ_TOKENS and
    FINML_MLOPS_OPERATE_TOKENS (unset: closed). SIGTERM or Ctrl-C shuts down gracefully and
    flushes the inference log.
    """
    from finml.jobs.serving import serve as run_server

    state: State = ctx.obj
    settings = _settings(
        state,
        host=host,
        port=port,
        poll_seconds=poll_seconds,
        ab={"mode": ab_mode, "challenger_percent": challenger_percent},
    )
    share = _traffic_share(state, traffic_from_bundle, bundle_var, traffic_from_endpoint)
    if share is not None and challenger_percent is None:  # --challenger-percent wins
        settings = _with_share(settings, share)
    if flush_seconds is not None:
        section = settings.model_dump()
        section["inference_log"]["flush_seconds"] = flush_seconds
        settings = type(settings).from_section(section)
    console.print(
        f"serving {settings.model}@champion on http://{settings.host}:{settings.port} "
        f"(A/B {settings.ab.mode}); docs at /docs"
    )
    run_server(state.config, settings, log_level=log_level, decide=decide)


def _with_share(settings: Any, share: float) -> Any:
    """``settings`` splitting ``share`` percent of the entities to the challenger."""
    from finml.serving.endpoint import ab_settings

    section = settings.model_dump()
    section["ab"] = ab_settings(settings.ab, share).model_dump()
    return type(settings).from_section(section)


def _traffic_share(
    state: State, target: str | None, variables: list[str] | None, from_endpoint: bool
) -> float | None:
    """The challenger's share of the bundle target's endpoint or of the local endpoint
    (None: neither asked for, or no local endpoint yet)."""
    if target is not None:
        from finml.bundle.endpoint import endpoint_traffic
        from finml.bundle.loader import load_bundle
        from finml.cli.bundle import _pairs

        traffic = endpoint_traffic(load_bundle("."), target, _pairs(variables or []))
        return float(traffic.challenger_percent)
    if from_endpoint:
        from finml.serving.endpoint import load_state

        found = load_state(state.config.home)
        return float(found.challenger_percent) if found is not None else None
    return None


def score(
    ctx: typer.Context,
    source: Annotated[str, typer.Option(help="Delta table of features to score.")] = "test_set",
    alias: Annotated[str, typer.Option(help="Model alias to score with.")] = "champion",
    method: Annotated[
        str | None,
        typer.Option(help="auto | driver | map_in_pandas | spark_udf (default from config)."),
    ] = None,
) -> None:
    """Batch-score a Delta table with Spark into `predictions`."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from finml.jobs.serving import score_table
    from finml.registry import model_name, require_alias

    state: State = ctx.obj
    settings = _settings(state, score_method=method)
    state.require_tables(source)  # both checks before Spark starts
    require_alias(state.config, model_name(state.config, settings.model), alias)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()) as bar:
        bar.add_task(f"scoring {source} with {settings.model}@{alias}", total=None)
        report = score_table(
            state.config,
            state.spark(),
            state.tables(with_spark=True),
            source,
            alias=alias,
            settings=settings,
        )
    console.print(
        f"scored {report.rows:,} rows of {report.source} (v{report.source_version}) with "
        f"{report.model_name} v{report.model_version} -> {report.table} "
        f"(v{report.table_version}) in {report.seconds:.1f}s [{report.method}]"
    )


def ab_report(
    ctx: typer.Context,
    labels: Annotated[
        str | None, typer.Option(help="Labels table (default from config: test_set).")
    ] = None,
) -> None:
    """Compare champion and challenger (or shadow) on labelled inference-log rows."""
    from finml.jobs.serving import ab_report as run_report

    state: State = ctx.obj
    result, row = run_report(
        state.config,
        state.spark(),
        state.tables(with_spark=True),
        settings=_settings(state),
        labels_table=labels,
    )
    table = RichTable("variant", "versions", "n", "precision", "recall", title="A/B report")
    for c in (result.champion, result.challenger):
        table.add_row(c.variant, c.versions, f"{c.n:,}", f"{c.precision:.3f}", f"{c.recall:.3f}")
    console.print(table)
    console.print(
        f"precision z={result.precision_z:.2f} p={result.precision_p:.4f}; "
        f"recall z={result.recall_z:.2f} p={result.recall_p:.4f}"
    )
    console.print(f"decision: [bold]{result.decision}[/] ({result.reason}); test {row['test_id']}")
