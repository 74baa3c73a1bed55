"""``finml secrets check``: which secrets resolve, and from where -- never their values."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from finml.cli.common import State, console, fail

if TYPE_CHECKING:
    from finml.config import ProjectConfig

secrets_app = typer.Typer(help="Secrets: the environment, then secrets/<env>.enc.yaml (sops).")


def register(app: typer.Typer) -> None:
    app.add_typer(secrets_app, name="secrets", no_args_is_help=True)
    secrets_app.command(
        "check",
        epilog="Example: finml --env prd secrets check --require FINNHUB_API_KEY",
    )(check)


def check(
    ctx: typer.Context,
    require: Annotated[
        list[str] | None,
        typer.Option("--require", help="A secret that must resolve (repeatable): else exit 1."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List FinML's secrets, those of the alert channels and those in the environment's
    secrets file, each with where it resolves from: environment, file or unset.

    Decrypts the file once (needs sops and an age key); prints no value."""
    state: State = ctx.obj
    config = state.config
    store = config.secrets
    names = known_names(config) + [n for n in store.file_values() if n not in known_names(config)]
    origins = {name: store.origin(name) for name in names}
    summary = {
        "file": str(store.file) if store.file else None,
        "file_used": store.unused_reason() is None,
        "reason": store.unused_reason(),
        "secrets": origins,
    }
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        table = Table("secret", "from")
        for name, origin in origins.items():
            table.add_row(name, origin)
        console.print(f"secrets file: {summary['file']} ({summary['reason'] or 'decrypted'})")
        console.print(table)
    missing = [name for name in require or [] if store.origin(name) == "unset"]
    if missing:
        fail(f"expected these secrets to resolve, found them unset: {', '.join(missing)}")


def known_names(config: ProjectConfig) -> list[str]:
    """FinML's secret variables, then the variables the alert channels name."""
    from finml.monitoring.channel_settings import EmailChannel
    from finml.monitoring.settings import MonitoringSettings
    from finml.secrets import SECRET_VARIABLES

    names = list(SECRET_VARIABLES)
    for channel in MonitoringSettings.from_config(config).alerts.channels:
        variable = channel.auth_env if isinstance(channel, EmailChannel) else channel.url_env
        if variable and variable not in names:
            names.append(variable)
    return names
