"""The ``finml`` command as a real process: exit codes, output and --help examples."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
COMMANDS = [
    "info", "tables", "history", "demo", "simulate", "ingest", "pipeline run",
    "collect finnhub", "collect alphavantage", "features build", "regimes", "train",
    "promote", "rollback", "models", "serve", "score", "ab-report", "backtest", "drift", "monitor",
    "alerts", "alerts list", "alerts ack", "dashboard export", "dashboard serve", "job run",
    "job list", "bundle validate", "bundle ddl", "scheduler run", "scheduler next", "eda",
    "models list", "models transition", "runs compare", "replay", "job runs", "docs reference",
    "secrets check", "endpoint promote",
]  # fmt: skip
# The README's first command on a smaller market: every stage, a few minutes in CI.
SMALL_DEMO = """
project: finml
environments:
  local:
    catalog: finml_local
simulator:
  days: 12
  trades_per_day: 700
"""


def finml(
    *args: str, home: Path, timeout: int = 300, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src"), **extra_env}
    return subprocess.run(
        [sys.executable, "-c", "from finml.cli import main; main()", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Every command's --help in one process (typer's runner, the real app): 37 interpreter
# starts cost about 2 minutes; the exit codes of real processes are tested below and in
# test_exit_codes.py.
HELPS = """
import json, sys
from typer.testing import CliRunner
from finml.cli import app
runner = CliRunner()
found = {}
for command in json.loads(sys.argv[1]):
    result = runner.invoke(app, [*command.split(), "--help"])
    found[command] = [result.exit_code, result.output]
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    home = tmp_path_factory.mktemp("helps")
    env = {**os.environ, "FINML_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    result = subprocess.run(
        [sys.executable, "-c", HELPS, json.dumps(COMMANDS)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command: str, helps: dict) -> None:
    code, output = helps[command]
    assert code == 0, output
    assert "Example: finml" in output


def test_help_of_a_real_process_exits_zero(tmp_path: Path) -> None:
    result = finml("models", "transition", "--help", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Example: finml models transition" in result.stdout


def test_info_names_the_delta_engine_and_paths(tmp_path: Path) -> None:
    result = finml("info", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    # make install fetched the jars (CI fails without them): delta-spark, with its version
    assert info["delta_engine"] == "delta-spark", info["delta_engine_reason"]
    assert "delta-spark_4.2_2.13 4.4.0" in info["delta_engine_reason"]
    assert info["warehouse"] == str(tmp_path / "warehouse")
    assert info["catalog"] == "finml_local"


def test_info_says_why_it_falls_back_to_delta_rs(tmp_path: Path) -> None:
    missing = tmp_path / "delta-spark_4.2_2.13-4.4.0.jar"
    result = finml("info", "--json", home=tmp_path, FINML_DELTA_JARS=str(missing))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["delta_engine"] == "delta-rs"
    assert str(missing) in info["delta_engine_reason"]


def test_demo_then_tables_and_history_exit_zero(tmp_path: Path, spark) -> None:
    config = tmp_path / "project_config.yml"
    config.write_text(SMALL_DEMO)
    demo = finml("--config", str(config), "demo", home=tmp_path, timeout=1200)
    assert demo.returncode == 0, demo.stderr[-3000:]
    for stage in ("Reconciliation", "Tournament", "spectral gap", "drift check", "monitoring"):
        assert stage in demo.stdout, f"demo output lacks {stage!r}"
    index = tmp_path / "dashboard" / "index.html"
    assert f"file://{index}" in demo.stdout.replace("\n", "") and index.is_file()
    listing = finml("tables", "--json", home=tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = {row["table"]: row for row in json.loads(listing.stdout)}
    assert rows, "the demo wrote no table"
    name = next(iter(rows))
    history = finml("history", name, "--json", home=tmp_path)
    assert history.returncode == 0, history.stderr
    assert json.loads(history.stdout)[0]["version"] == rows[name]["version"]
    _same_rows_through_three_readers(spark, tmp_path / "warehouse")
    _kinds_and_regime_studies(tmp_path)
    _backtest(tmp_path)
    _eda_profile(tmp_path)
    _explained(tmp_path)


def _explained(home: Path) -> None:
    """The registered version's permutation importance (one ranked row per model feature)
    and its holdout PR curve are in Delta, stamped with that version."""
    from deltalake import DeltaTable

    def table(name: str):
        return DeltaTable(str(next(p.parent for p in home.rglob(f"{name}/_delta_log"))))

    importance = table("feature_importance").to_pandas()
    curve = table("pr_curves").to_pandas()
    assert importance["registered_version"].nunique() == 1
    assert importance["rank"].tolist() == list(range(1, len(importance) + 1))
    assert importance["importance"].is_monotonic_decreasing
    assert importance["importance"].iloc[0] > 0.01  # some feature matters
    assert len(importance) >= 10 and importance["feature"].is_unique
    assert set(curve["registered_version"]) == set(importance["registered_version"])
    assert 10 <= len(curve) <= 202 and curve["recall"].between(0, 1).all()
    assert curve["recall"].is_monotonic_increasing and curve["recall"].iloc[-1] == 1.0


def _eda_profile(home: Path) -> None:
    """After the demo, ``eda_profile`` holds every layer, each profiled table at its current
    version, with outlier counts, and ADF p-values per symbol of the gold bars."""
    from deltalake import DeltaTable

    def table(name: str) -> DeltaTable:
        return DeltaTable(str(next(p.parent for p in home.rglob(f"{name}/_delta_log"))))

    profile = table("eda_profile").to_pandas()
    assert set(profile["layer"]) == {"bronze", "silver", "gold", "features"}
    for name, version in profile.groupby("table_name")["table_version"].max().items():
        assert version == table(name).version(), name  # the demo's last write, profiled
    outliers = profile[profile["statistic"] == "outliers_iqr"]
    assert set(outliers["layer"]) == {"bronze", "silver", "gold", "features"}
    assert (outliers["value"] >= 0).all() and outliers["value"].sum() > 0
    adf = profile[profile["statistic"] == "adf_pvalue"]
    bars = table("gold_bars_1m").to_pandas()
    assert set(adf["symbol"]) == set(bars["symbol"])
    assert adf["value"].between(0, 1).all()
    pearson = profile[profile["statistic"] == "pearson"]
    assert len(pearson) > 100 and pearson["value"].dropna().between(-1 - 1e-9, 1 + 1e-9).all()


def _kinds_and_regime_studies(home: Path) -> None:
    """The tournament scored every candidate per injected anomaly kind, and the regime
    fit left its four studies as MLflow experiments with runs."""
    from deltalake import DeltaTable
    from mlflow import MlflowClient

    from finml.config_simulator import ANOMALY_TYPES
    from finml.registry.store import REGIME_STUDIES

    location = next(p.parent for p in home.rglob("anomaly_kind_quality/_delta_log"))
    kinds = DeltaTable(str(location)).to_pandas()
    assert set(kinds["anomaly_type"]) <= {*ANOMALY_TYPES, "unknown"}
    assert len(set(kinds["anomaly_type"]) & set(ANOMALY_TYPES)) >= 3, kinds
    assert kinds["recall"].between(0, 1).all() and (kinds["positives"] > 0).all()
    assert (kinds["detected"] <= kinds["positives"]).all()
    client = MlflowClient(tracking_uri=f"sqlite:///{(home / 'mlflow.db').resolve()}")
    for study in REGIME_STUDIES.values():
        experiment = client.get_experiment_by_name(study)
        assert experiment is not None, study
        assert client.search_runs([experiment.experiment_id]), study
    # an ensemble champion's members were monitored in every live window it was scored in
    champion = client.get_model_version_by_alias("finml_local.markets.anomaly_model", "champion")
    if champion.tags.get("finml.candidate") == "ensemble":
        members = DeltaTable(
            str(next(p.parent for p in home.rglob("ensemble_member_monitoring/_delta_log")))
        ).to_pandas()
        windows = DeltaTable(
            str(next(p.parent for p in home.rglob("model_monitoring/_delta_log")))
        ).to_pandas()
        labelled = windows[windows["labelled_count"].fillna(0) > 0]
        starts = {w["start"] for w in members["window"]}
        assert starts == {w["start"] for w in labelled["window"]}, (starts, labelled)
        assert members["live_weight"].between(0, 1).all()
        latest = members[members["window"].map(lambda w: w["start"]) == max(starts)]
        assert latest["live_weight"].sum() == pytest.approx(1.0)


def _backtest(home: Path) -> None:
    """The demo's decision backtest: one decision per prediction of the champion, its
    metrics in MLflow."""
    from deltalake import DeltaTable
    from mlflow import MlflowClient

    def table(name: str):
        return DeltaTable(str(next(p.parent for p in home.rglob(f"{name}/_delta_log"))))

    decisions = table("decisions").to_pandas()
    predictions = table("predictions").to_pandas()
    assert len(decisions) == len(predictions) and decisions["run_id"].nunique() == 1
    assert set(decisions["action"]) <= {
        "NO_ACTION",
        "RISK_REJECTED",
        "EXIT_POSITION",
        "TAKE_ACTION",
    }
    opened = (decisions["action"] == "TAKE_ACTION").sum()
    closed = (decisions["action"] == "EXIT_POSITION").sum()
    assert opened > 0 and opened - closed in range(0, 5)  # at most one open per symbol
    client = MlflowClient(tracking_uri=f"sqlite:///{(home / 'mlflow.db').resolve()}")
    run = client.get_run(decisions["run_id"].iloc[0])
    assert run.data.metrics["decisions"] == len(decisions)
    assert run.data.metrics["positions_opened"] == opened


def _same_rows_through_three_readers(spark, warehouse: Path) -> None:
    """Every table the demo wrote (on the default engine, delta-spark) reads the same
    through JVM Delta, delta-rs and a hand-made replay of its log."""
    from deltalake import DeltaTable

    from delta_log_replay import canonical, read

    locations = sorted(p.parent for p in warehouse.rglob("_delta_log"))
    assert len(locations) >= 10, locations
    for location in locations:
        replayed = canonical(read(location))
        through_rs = canonical(DeltaTable(str(location)).to_pyarrow_table().to_pylist())
        through_jvm = canonical(
            spark.read.format("delta").load(str(location)).toArrow().to_pylist()
        )
        assert through_rs == replayed, f"delta-rs differs from the log replay on {location}"
        assert through_jvm == replayed, f"delta-spark differs from the log replay on {location}"


def test_errors_are_one_line_and_exit_non_zero(tmp_path: Path) -> None:
    missing = finml("history", "no_such_table", home=tmp_path)
    assert missing.returncode == 1
    assert "error: table finml_local.markets.no_such_table" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad_name = finml("history", "x;drop", home=tmp_path)
    assert bad_name.returncode == 1 and "expected 1-128 characters" in bad_name.stderr
    bad_env = finml("--env", "nowhere", "info", home=tmp_path)
    assert bad_env.returncode == 1 and "environment 'nowhere' is not defined" in bad_env.stderr


# ---- config failures and exit codes, as real processes of the installed `finml` --------------
FINML = str(Path(sys.executable).parent / "finml")
CONFIGS = {
    "good.yml": "environments:\n  local: {catalog: c_ok}\n",
    "twice.yml": "environments:\n  local:\n    catalog: a\n    catalog: b\n",
    "typo.yml": "environments:\n  local:\n    spark: {shufle_partitions: 3}\n",
    "empty.yml": "",
}


def finml_in(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``finml args`` run from ``cwd`` with no FINML_* variable but those in ``env``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FINML_")}
    environ.update(FINML_LOG_LEVEL="WARNING", **env)
    return subprocess.run(
        [FINML, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty working folder with no project_config.yml in it or above it; the configs of
    :data:`CONFIGS` sit next to it."""
    if any((p / "project_config.yml").is_file() for p in tmp_path.parents):
        pytest.skip(f"a project_config.yml exists above {tmp_path}")
    (tmp_path / "work").mkdir()
    (tmp_path / "configs").mkdir()
    for name, text in CONFIGS.items():
        (tmp_path / "configs" / name).write_text(text)
    return tmp_path / "work"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ("--env", "nope", "info"),
            {},
            "no project config found: --config not given, $FINML_CONFIG not set, "
            "no project_config.yml in {cwd} or any parent folder up to /",
        ),
        (
            ("--env", "nope", "tables"),
            {"FINML_HOME": "{cwd}/../state"},
            "built-in config: environment 'nope' is not defined (asked for with --env); "
            "expected one of ['local']",
        ),
        (
            ("--config", "../configs/twice.yml", "info"),
            {},
            "line 4: key 'environments.local.catalog' is given twice (first on line 3)",
        ),
        (
            ("--config", "../configs/typo.yml", "info"),
            {},
            "key 'environments.local.spark.shufle_partitions': unknown key; did you mean "
            "'shuffle_partitions'?",
        ),
        (("--config", "../configs/empty.yml", "info"), {}, "got an empty file"),
        (
            ("info",),
            {"FINML_CONFIG": "{cwd}/gone.yml"},
            "gone.yml (from $FINML_CONFIG): expected an existing YAML file, found nothing",
        ),
        (
            ("--config", "../configs/good.yml", "info"),
            {"FINML_CATALOG": "no such"},
            "environment variable FINML_CATALOG: catalog/schema name",
        ),
    ],
)
def test_config_failures_exit_1_with_one_line_and_write_nothing(
    workdir: Path, args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    filled = {k: v.format(cwd=workdir) for k, v in env.items()}
    result = finml_in(workdir, *args, **filled)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line, nothing else
    assert result.stderr.startswith("error: ") and expected.format(cwd=workdir) in result.stderr
    assert list(workdir.iterdir()) == []  # no .finml (nor anything else) where finml ran
    assert not (workdir.parent / "state").exists()


@pytest.mark.parametrize(
    ("args", "expected"),
    [(("--bogus",), "No such option: --bogus"), (("history",), "Missing argument 'name'")],
)
def test_usage_errors_exit_2_without_a_traceback(
    workdir: Path, args: tuple[str, ...], expected: str
) -> None:
    result = finml_in(workdir, *args)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert list(workdir.iterdir()) == []


def test_a_good_config_exits_0(workdir: Path) -> None:
    result = finml_in(workdir, "--config", "../configs/good.yml", "info", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["catalog"] == "c_ok"
    assert list(workdir.iterdir()) == []
