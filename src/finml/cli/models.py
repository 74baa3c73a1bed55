"""``finml train``, ``finml promote``, ``finml rollback``, ``finml models``: the training plane.

Training reads ``train_set``/``test_set`` through delta-rs, so none of these starts a JVM.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from finml.cli.common import State, console, emit_json


def register(app: typer.Typer) -> None:
    app.command(epilog="Example: finml train --seed 42 --folds 3")(train)
    app.command(epilog="Example: finml promote --version 3")(promote)
    app.command(epilog='Example: finml rollback --reason "precision dropped in prod"')(rollback)
    app.command("models", epilog="Example: finml models --json")(models)


def train(
    ctx: typer.Context,
    seed: Annotated[int | None, typer.Option(help="Seed of every candidate.")] = None,
    folds: Annotated[int | None, typer.Option(min=2, help="Walk-forward folds.")] = None,
    candidates: Annotated[
        str | None, typer.Option(help="Comma-separated candidates (default: config).")
    ] = None,
    tune: Annotated[
        bool | None, typer.Option("--tune/--no-tune", help="Optuna tuning within its budget.")
    ] = None,
    max_train_rows: Annotated[
        int | None, typer.Option(min=100, help="Use only the most recent N training rows.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the leaderboard as JSON.")] = False,
) -> None:
    """Run the model tournament, register the winner as @challenger, validate and gate it."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from finml.jobs.training import run_training
    from finml.models.settings import ModelSettings
    from finml.settings_base import validate_section

    state: State = ctx.obj
    settings = ModelSettings.from_config(state.config)
    overrides: dict[str, object] = {"seed": seed, "folds": folds, "max_train_rows": max_train_rows}
    if candidates:
        overrides["candidates"] = tuple(c.strip() for c in candidates.split(",") if c.strip())
    if tune is not None:
        overrides["tuning"] = settings.tuning.model_copy(update={"enabled": tune})
    values = settings.model_dump() | {k: v for k, v in overrides.items() if v is not None}
    settings = validate_section(ModelSettings, values, "models")
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("tournament", total=None)
        report = run_training(
            state.config,
            None,
            state.tables(),
            settings,
            progress=lambda msg: bar.update(task, description=msg),
        )
    if as_json:
        emit_json(
            {
                "leaderboard": report.tournament.leaderboard().to_dict(orient="records"),
                "model": report.model_name,
                "version": report.version.version,
                "validation_passed": report.validation.passed,
                "decision": report.decision.decision,
                "reasons": list(report.decision.reasons),
            }
        )
        return
    console.print(report.leaderboard_table())
    console.print(report.summary())


def promote(
    ctx: typer.Context,
    version: Annotated[
        int | None, typer.Option(min=1, help="Version to gate (default: @challenger).")
    ] = None,
) -> None:
    """Gate a registered version against the champion on test_set; PROMOTE or REJECT."""
    from finml.jobs.training import promote_version

    state: State = ctx.obj
    decision = promote_version(state.config, state.tables(), version)
    console.print(
        f"{decision.decision} v{decision.challenger_version}: {'; '.join(decision.reasons)}"
    )
    if not decision.promoted:
        raise typer.Exit(3)  # the gate rejected the version (docs/models.md)


def rollback(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why (recorded in rollback_audit).")],
    restore_features: Annotated[
        bool,
        typer.Option(help="Also time-travel trade_features to the restored model's version."),
    ] = False,
) -> None:
    """Point @champion back at @previous-champion (audited)."""
    from finml.jobs.training import rollback as run_rollback

    state: State = ctx.obj
    record = run_rollback(state.config, state.tables(), reason, restore_features=restore_features)
    console.print(
        f"champion of {record.model_name}: v{record.from_version} -> v{record.to_version}"
        + (" (trade_features restored)" if record.feature_table_restored else "")
    )


def models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Versions of the anomaly model with aliases, winner candidate and key metrics."""
    from finml.registry import ANOMALY_MODEL, model_name, versions

    state: State = ctx.obj
    name = model_name(state.config, ANOMALY_MODEL)
    rows = [
        {
            "version": v.version,
            "aliases": list(v.aliases),
            "rolled_back": v.tags.get("finml.rolled_back", "") == "true",
            "candidate": v.tags.get("finml.candidate", ""),
            "pr_auc": v.tags.get("finml.metric.pr_auc", ""),
            "roc_auc": v.tags.get("finml.metric.roc_auc", ""),
            "gate": v.tags.get("finml.gate_decision", ""),
            "git_sha": v.tags.get("finml.git_sha", "")[:10],
        }
        for v in versions(state.config, name)
    ]
    if as_json:
        emit_json(rows)
        return
    table = RichTable(*(rows[0] if rows else ("version",)), title=name)
    for row in rows:
        table.add_row(*(", ".join(v) if isinstance(v, list) else str(v) for v in row.values()))
    console.print(table if rows else f"no versions of {name} registered yet")
