"""The ``regimes`` and ``features build`` commands, mounted on a bare app (the real ``finml``
app wires ``register`` the same way)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import typer
from typer.testing import CliRunner

from finml.cli.common import State
from finml.cli.features import register
from finml.regimes.evaluate import best_permutation_accuracy
from finml.runtime.delta import DeltaTables

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


def test_regimes_command_writes_hmm_labels_and_both_posteriors(config, tmp_path) -> None:
    csv, out = tmp_path / "spy.csv", tmp_path / "regimes.csv"
    hidden = write_csv(csv, days=200)
    result = CliRunner().invoke(
        app_with(config),
        ["regimes", "--input", str(csv), "--symbol", "SPY", "--no-model", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "Regime HMM forecast transitions" in result.output
    assert "HMM vs threshold regimes" in result.output
    rows = pd.read_csv(out)
    assert len(rows) == 200 and (rows["symbol"] == "SPY").all()
    assert set(rows["regime"]) <= {"Normal", "Stress", "Crisis"}  # the baseline stays
    assert set(rows["hmm_regime"]) <= {"Normal", "Stress", "Crisis"}
    for kind in ("filtered", "smoothed"):
        probs = rows[[f"p_{kind}_{s}" for s in ("normal", "stress", "crisis")]].to_numpy()
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    labels = rows["hmm_regime_id"].to_numpy()
    assert (labels == rows[["p_smoothed_normal", "p_smoothed_stress", "p_smoothed_crisis"]]
            .to_numpy().argmax(axis=1)).all()  # fmt: skip
    # The CSV's range follows a hidden 3-regime path; the HMM labels find it.
    assert best_permutation_accuracy(labels, hidden) >= 0.75
    # The same rows went to regime_states.
    states = DeltaTables.from_config(config, None).table("regime_states").to_arrow().to_pandas()
    assert {"hmm_regime", "p_filtered_crisis", "p_smoothed_crisis"} <= set(states.columns)
    assert len(states) == 200
