"""The ``regimes`` and ``features build`` commands, mounted on a bare app (the real ``finml``
app wires ``register`` the same way)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from finml.cli.common import State
from finml.cli.features import register

from .test_regime_job import write_csv


def app_with(config) -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = State(_config=config)

    register(app)
    return app


def test_regimes_command_on_a_csv(config, tmp_path) -> None:
    csv = tmp_path / "spy.csv"
    write_csv(csv, days=60)
    result = CliRunner().invoke(
        app_with(config), ["regimes", "--input", str(csv), "--symbol", "SPY", "--no-model"]
    )
    assert result.exit_code == 0, result.output
    assert "Regime transitions (csv:spy.csv)" in result.output
    assert "spectral gap" in result.output and "stationary" in result.output
    assert "SPY" in result.output


def test_regimes_command_reports_a_bad_csv(config, tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,close\n2024-01-02,1\n")
    result = CliRunner().invoke(app_with(config), ["regimes", "--input", str(bad)])
    assert result.exit_code == 1
    assert "expected columns" in result.output


def test_help_texts_have_examples(config) -> None:
    runner = CliRunner()
    assert (
        "Example: finml features build"
        in runner.invoke(app_with(config), ["features", "build", "--help"]).output
    )
    assert (
        "Example: finml regimes --input"
        in runner.invoke(app_with(config), ["regimes", "--help"]).output
    )
