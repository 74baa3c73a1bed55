"""``finml endpoint promote``: the canary of the model serving endpoint, step by step."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console, fail

endpoint_app = typer.Typer(
    help="The model serving endpoint's traffic split (locally: <home>/serving/endpoint.json).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(endpoint_app, name="endpoint")
    endpoint_app.command(
        "promote",
        epilog="Example: finml endpoint promote --steps 10,25,50,100 --min-requests 200 "
        "--step-seconds 600",
    )(promote)


def _steps(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"--steps: expected comma-separated percentages such as 10,25,50,100, got {text!r}", 2)


def promote(
    ctx: typer.Context,
    steps: Annotated[
        str, typer.Option(help="The challenger's traffic shares, in percent, ending at 100.")
    ] = "10,25,50,100",
    min_requests: Annotated[
        int, typer.Option(min=1, help="Challenger requests needed at each step to go on.")
    ] = 100,
    step_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds each share serves before its evidence is read.")
    ] = 0.0,
) -> None:
    """Shift traffic from the champion to the challenger in steps, checking the A/B evidence
    (inference_log joined with the labels, as ab-report) at each; roll back to 0 % when the
    challenger is significantly worse; at 100 % make it the champion. Each step is a row of
    endpoint_traffic_audit. Exit 0: promoted; 1: stopped (one line why); 2: bad usage.

    Locally the endpoint is the split in <home>/serving/endpoint.json, which
    `finml serve --traffic-from-endpoint` serves; on Databricks the same steps would update
    the serving endpoint's traffic routes (not done by this command).
    """
    from finml.errors import DataError
    from finml.jobs.endpoint import check_steps, promote_endpoint
    from finml.serving.settings import ServingSettings

    state: State = ctx.obj
    try:
        chosen = check_steps(_steps(steps))
    except DataError as exc:
        fail(str(exc), 2)
    result = promote_endpoint(
        state.config,
        state.tables(),
        ServingSettings.from_config(state.config),
        steps=chosen,
        min_requests=min_requests,
        between_steps=lambda percent: time.sleep(step_seconds),
    )
    table = RichTable("step", "challenger %", "action", "n champion", "n challenger", "reason")
    for row in result.audit:
        table.add_row(
            str(row["step"]),
            str(row["challenger_percent"]),
            row["action"],
            str(row["champion_n"]),
            str(row["challenger_n"]),
            row["reason"],
        )
    console.print(table)
    if not result.promoted:
        fail(f"endpoint promote stopped {result.reason}")
    console.print(f"endpoint {result.state.name}: {result.reason}")
