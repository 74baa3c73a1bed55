"""``models:/<name>@champion`` loaded in a fresh Python process predicts exactly what the
in-memory winner predicted (same bytes, not just close)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from finml.models.synthetic import train_test

LOADER = """
import sys, numpy as np, pandas as pd, mlflow
mlflow.set_tracking_uri(sys.argv[1]); mlflow.set_registry_uri(sys.argv[1])
frame = pd.read_parquet(sys.argv[3])
out = mlflow.pyfunc.load_model(f"models:/{sys.argv[2]}@champion").predict(frame)
np.save(sys.argv[4], out["score"].to_numpy()); np.save(sys.argv[5], out["prediction"].to_numpy())
"""


def test_champion_in_a_fresh_process_predicts_exactly_the_in_memory_model(
    home, fast, sets, tmp_path: Path
) -> None:
    from finml.jobs.training import run_training

    config, tables = home
    train, test = train_test(3000, seed=8)
    sets.write(tables, train, test)
    report = run_training(config, None, tables, fast)
    assert report.decision.promoted
    features = test[list(report.tournament.winner.model.features)].astype("float64")
    in_memory = report.tournament.winner.model.score_frame(features)
    features.to_parquet(tmp_path / "x.parquet")
    scores, predictions = tmp_path / "s.npy", tmp_path / "p.npy"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-c", LOADER, config.tracking_uri, report.model_name,
         str(tmp_path / "x.parquet"), str(scores), str(predictions)],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    np.testing.assert_array_equal(np.load(scores), in_memory["score"].to_numpy())
    np.testing.assert_array_equal(np.load(predictions), in_memory["prediction"].to_numpy())
    assert in_memory["prediction"].sum() > 0  # the threshold flags something
