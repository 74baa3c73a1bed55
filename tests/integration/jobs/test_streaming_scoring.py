"""The streaming scoring job as Databricks runs it: ``scripts/stream_score.py`` in its own
process (Delta source -> transformWithStateInPandas on RocksDB -> Delta sink), on a real
MLflow champion. SIGKILLed mid-stream and restarted on its checkpoint, it ends with exactly
the decisions of an uninterrupted run; a rerun adds nothing; a grown market adds only the
new trades' decisions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from finml.config import ProjectConfig
from finml.features.frame import feature_names
from finml.features.settings import FeatureSettings
from finml.jobs.streaming_scoring import CHECKPOINT
from finml.runtime.delta import DeltaTables

REPO = Path(__file__).resolve().parents[3]
NAMES = tuple(feature_names(FeatureSettings()))
START = datetime(2024, 3, 7, 14, 30, tzinfo=UTC)  # Thursday 9:30 in New York
CONFIG = """
project: finml
default_env: test
decisions:
  min_confidence: 0.0
  payoff_ratio: 1000000000.0
  max_holding_seconds: 60
environments:
  test:
    home: {home}
    delta_engine: delta-spark
    spark:
      shuffle_partitions: 2
"""
COMPARED = ["trade_id", "symbol", "ts", "price", "probability", "action", "reason", "side",
            "quantity", "pnl", "equity", "model_version"]  # fmt: skip


def _commit(tables: DeltaTables, part: int, n: int = 150) -> None:
    """One silver commit: ``n`` trades of each of two symbols, after the previous part's."""
    g = np.random.default_rng(part)
    rows = []
    for k, symbol in enumerate(("AAA", "BBB")):
        steps = g.normal(0, 0.002, n)
        steps[g.choice(n, 4, replace=False)] += 0.02
        prices = np.round(50 * (k + 1) * np.exp(np.cumsum(steps) + part * 0.001), 4)
        for i in range(n):
            ts = START + timedelta(seconds=2 * (part * n + i) + k)
            volume = float(g.integers(1, 900))
            rows.append((symbol, ts, f"{symbol}-{part}-{i}", float(prices[i]), volume, ts.date()))
    frame = pd.DataFrame(
        rows, columns=["symbol", "ts", "trade_id", "price", "volume", "trade_date"]
    )
    tables.table("silver_trades").append(pa.Table.from_pandas(frame, preserve_index=False))


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory):
    from finml.serving.sample_model import log_sample_model

    home = tmp_path_factory.mktemp("stream_home")
    config_file = home / "finml.yml"
    config_file.write_text(CONFIG.format(home=home))
    config = ProjectConfig.load(path=config_file, env="test")
    log_sample_model(config, features=NAMES, seed=0, aliases=("champion",))
    tables = DeltaTables.from_config(config, None)
    _commit(tables, 0)  # history before the stream's first run: its state's warm start
    return config, config_file, tables


def _job(config_file: Path, account: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "FINML_CONFIG": str(config_file), "PYTHONPATH": str(REPO / "src")}
    args = ["--catalog", "finml_local", "--schema", "markets", "--env", "test",
            "--account", account, "--max-files-per-trigger", "1"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "stream_score.py"), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # SIGKILL the whole group: the Python driver and its JVM
    )


def _finish(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()


def _decisions(tables: DeltaTables, account: str) -> pd.DataFrame:
    frame = tables.table("decisions").to_arrow().to_pandas()
    rows = frame[frame["account"] == account]
    return rows.sort_values("trade_id").reset_index(drop=True)


def test_sigkill_mid_stream_then_restart_writes_each_decision_once(market, spark) -> None:
    from finml.jobs.streaming_scoring import run_streaming_scoring

    config, config_file, tables = market
    spark_tables = DeltaTables.from_config(config, spark)
    for account in ("reference", "live"):  # first runs: nothing new, the start is pinned
        idle = run_streaming_scoring(config, spark, spark_tables, account=account)
        assert (idle.batches, idle.trades) == (0, 0)
    for part in range(1, 5):
        _commit(tables, part)
    reference = run_streaming_scoring(
        config, spark, spark_tables, account="reference", max_files_per_trigger=1
    )
    assert reference.batches == 4 and reference.trades == 4 * 300

    commits = config.checkpoint_dir / CHECKPOINT / "live" / "commits"
    process = _job(config_file, "live")
    deadline = time.monotonic() + 300
    while process.poll() is None and not (commits / "0").exists():
        assert time.monotonic() < deadline, "the stream committed no batch in 300 s"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_at_kill = sorted(p.name for p in commits.iterdir() if p.name.isdigit())
    assert len(done_at_kill) < 4, f"the stream ended before the kill: {done_at_kill}"

    _finish(_job(config_file, "live"))
    live, ref = _decisions(tables, "live"), _decisions(tables, "reference")
    assert len(live) == 4 * 300 == live["trade_id"].nunique()
    assert set(live["source"]) == {"streaming"}
    actions = live["action"].value_counts()
    assert actions.get("TAKE_ACTION", 0) >= 2 and actions.get("EXIT_POSITION", 0) >= 2, actions
    # warm-started from the history, the champion scores the stream's very first trades
    first = live.sort_values("ts").groupby("symbol").head(1)
    assert first["probability"].notna().all(), first[["symbol", "reason"]]
    assert live["probability"].notna().sum() > 1100
    pd.testing.assert_frame_equal(live[COMPARED], ref[COMPARED])

    # a rerun with nothing new adds nothing; a grown market adds only the new trades
    assert "0 micro-batch(es), 0 trades read" in _finish(_job(config_file, "live"))
    assert len(_decisions(tables, "live")) == 4 * 300
    _commit(tables, 5)
    _finish(_job(config_file, "live"))
    run_streaming_scoring(config, spark, spark_tables, account="reference")
    live, ref = _decisions(tables, "live"), _decisions(tables, "reference")
    assert len(live) == 5 * 300 == live["trade_id"].nunique()
    pd.testing.assert_frame_equal(live[COMPARED], ref[COMPARED])
