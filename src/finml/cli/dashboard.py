"""``finml dashboard export`` and ``finml dashboard serve``: the static metrics dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from finml.cli.common import State, console, fail

dashboard_app = typer.Typer(
    help="The static HTML dashboard of exported metrics (opens offline from file://).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(dashboard_app, name="dashboard")
    dashboard_app.command(
        "export", epilog="Example: finml dashboard export --out /tmp/finml-dashboard"
    )(export)
    dashboard_app.command("serve", epilog="Example: finml dashboard serve --port 8050")(serve)


OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Site folder (default: dashboard.output_dir or <home>/dashboard)."),
]


def export(ctx: typer.Context, out: OutOption = None) -> None:
    """Export the metrics snapshot (validated) and the offline site; prints index.html's path."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from finml.errors import FinmlError
    from finml.jobs.dashboard import export_dashboard

    state: State = ctx.obj
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
        bar.add_task("exporting dashboard snapshot", total=None)
        try:
            index = export_dashboard(state.config, state.tables(), out)
        except FinmlError as exc:
            fail(str(exc))
    console.print(f"dashboard written; open {index.as_uri()}")


def serve(
    ctx: typer.Context,
    out: OutOption = None,
    port: Annotated[int | None, typer.Option(help="Port (default: dashboard.port, 8050).")] = None,
    export_first: Annotated[
        bool, typer.Option("--export/--no-export", help="Export a fresh snapshot first.")
    ] = True,
) -> None:
    """Serve the dashboard on 127.0.0.1 with the stdlib HTTP server until Ctrl-C."""
    from finml.dashboard.serve import make_server
    from finml.dashboard.settings import DashboardSettings
    from finml.errors import FinmlError
    from finml.jobs.dashboard import export_dashboard

    state: State = ctx.obj
    try:
        settings = DashboardSettings.from_config(state.config)
        site = out or settings.site_dir(state.config)
        if export_first:
            export_dashboard(state.config, state.tables(), site)
        server = make_server(Path(site), settings.host, settings.port if port is None else port)
    except (FinmlError, OSError) as exc:
        fail(str(exc))
    bound = server.server_address[1]
    console.print(f"serving {site} at http://{settings.host}:{bound}/ (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
