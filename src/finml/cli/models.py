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
    group = typer.Typer(
        help="Registered versions of the anomaly model, and moving them by hand.",
        epilog="Example: finml models --json",
        invoke_without_command=True,
    )
    group.callback()(models)
    group.command("list", epilog="Example: finml models list --json")(models_list)
    group.command(
        "transition",
        epilog='Example: finml models transition 3 --to archived --reason "leaks the label"',
    )(transition)
    app.add_typer(group, name="models")
    runs = typer.Typer(help="MLflow runs side by side.", no_args_is_help=True)
    runs.command("compare", epilog="Example: finml runs compare 1f2e3d 4c5b6a --diff")(compare)
    app.add_typer(runs, name="runs")


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
    """Versions of the anomaly model with aliases, winner candidate and key metrics (without
    a sub-command: the list)."""
    if ctx.invoked_subcommand is None:
        models_list(ctx, as_json)


def models_list(
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
            "archived": v.tags.get("finml.archived", "") == "true",
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


def transition(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument(min=1, help="Registered version to move.")],
    to: Annotated[str, typer.Option(help="challenger | champion | archived.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in model_transitions).")] = "",
    force: Annotated[
        bool, typer.Option(help="champion only: skip the gate and A/B (MANUAL_PROMOTE).")
    ] = False,
    actor: Annotated[str, typer.Option(help="Who moves it (recorded).")] = "cli",
) -> None:
    """Move a version to @challenger, to @champion (through the gate and replay A/B, or
    --force), or archive it; every move is audited in `model_transitions`. Exit 3 when the
    gate rejects a promotion."""
    from finml.jobs.transitions import move_version

    state: State = ctx.obj
    moved = move_version(
        state.config, state.tables(), version, to, reason=reason, force=force, actor=actor
    )
    name, target = moved.transition.model_name, moved.transition.to_state
    if moved.gate is None:
        console.print(f"{name} v{version} -> {target}: {moved.transition.decision}")
        return
    console.print(f"{moved.gate.decision} v{version}: {'; '.join(moved.reasons)}")
    if not moved.moved:
        raise typer.Exit(3)


def compare(
    ctx: typer.Context,
    run_ids: Annotated[list[str], typer.Argument(help="Two or more MLflow run ids.")],
    diff: Annotated[bool, typer.Option("--diff", help="Only the rows that differ.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Params, metrics (latest values, with the change against the first run) and finml
    tags of MLflow runs side by side; differing rows in bold."""
    from finml.registry.runs import compare_runs

    state: State = ctx.obj
    found = compare_runs(state.config, run_ids)
    if as_json:
        emit_json(found.as_dict(only_differences=diff))
        return
    table = RichTable("kind", "key", *(f"{r.name or '-'}\n{r.run_id[:12]}" for r in found.runs))
    for row in found.differing() if diff else found.rows:
        cells = [_cell(value, delta) for value, delta in zip(row.values, row.deltas, strict=True)]
        table.add_row(row.kind, row.key, *cells, style="bold" if row.differs else "dim")
    console.print(table)
    console.print(f"{len(found.differing())} of {len(found.rows)} rows differ")


def _cell(value: object, delta: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return f"{text} ({delta:+.4g})" if delta else text
