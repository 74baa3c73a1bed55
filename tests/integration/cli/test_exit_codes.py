"""Every ``finml`` error case as a real process: exit 2 for bad usage (click's usage
message), 1 for a domain error (one ``error:`` line naming what was wrong), never a
traceback; and the checks that must not start Spark answer in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
FINML = Path(sys.executable).parent / "finml"  # the console script, as a user runs it

BROKEN_BUNDLE = "bundle:\n  name: broken\nbogus_key: 1\n"

USAGE = [
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
    (["history"], "Missing argument 'name'"),
    (["simulate", "--days", "0"], "Invalid value for '--days'"),
    (["history", "trades", "--limit", "0"], "Invalid value for '--limit'"),
    (["alerts", "--status", "bogus"], "'bogus' is not one of 'delivered', 'failed'"),
    (["drift"], "expected either --scenario or --reference and --current"),
    (["monitor", "--source", "bogus"], "expected predictions or inference_log, got 'bogus'"),
    (["backtest", "--bogus"], "No such option: --bogus"),
]

DOMAIN = [
    (["bundle", "validate", "--root", "{empty}"], "databricks.yml: <file>: expected an existing"),
    (["bundle", "validate", "--root", "{broken}"], "databricks.yml: bogus_key: unknown field"),
    (["promote", "--version", "999"], "expected a registered version 999, found none"),
    (["rollback", "--reason", "test"], "expected aliases @champion and @previous-champion"),
    (["history", "nosuch"], "table finml_local.markets.nosuch: expected it to exist"),
    (["score"], "table finml_local.markets.test_set: expected it to exist"),
    (["drift", "--reference", "a", "--current", "b"], "table finml_local.markets.a: expected"),
    (["monitor"], "table finml_local.markets.predictions: expected it to exist"),
    (["backtest"], "table finml_local.markets.predictions: expected it to exist"),
    (["eda", "--table", "nosuch"], "eda: unknown tables ['nosuch']"),
    (
        ["--config", str(REPO / "project_config.yml"), "--env", "dev", "tables"],
        "environment dev: its tables are Unity Catalog tables",
    ),
    (["--config", "missing.yml", "info"], "config file missing.yml (given with --config)"),
    (["job", "run", "nosuch", "--root", str(REPO)], "job 'nosuch': expected one of"),
    (
        [
            "job",
            "run",
            "ingestion_workflow",
            "--root",
            str(REPO),
            "--target",
            "cluster",
            "--var",
            "spark_master=foo://x",
        ],
        "variables.spark_master: expected a Spark master URL",
    ),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with no project config (FINML_HOME: the built-in defaults, an empty home)
    and two bundles: none at all, and one with an unknown key."""
    root = tmp_path_factory.mktemp("exit_codes")
    (root / "empty").mkdir()
    (root / "broken").mkdir()
    (root / "broken" / "databricks.yml").write_text(BROKEN_BUNDLE)
    return root


def finml(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [a.format(empty=cwd / "empty", broken=cwd / "broken") for a in args]
    env = {**os.environ, "FINML_HOME": str(cwd / "home"), "PYTHONPATH": str(REPO / "src")}
    env.pop("FINML_CONFIG", None)
    return subprocess.run(
        [str(FINML), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(("args", "message"), USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_bad_usage_exits_2_with_the_usage_message(
    workdir: Path, args: list[str], message: str
) -> None:
    result = finml(args, workdir)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert message in output
    assert output.startswith("Usage: finml ") or output.startswith("error: "), output
    assert "Traceback" not in output


@pytest.mark.parametrize(("args", "message"), DOMAIN, ids=[" ".join(a) for a, _ in DOMAIN])
def test_a_domain_error_exits_1_with_one_line_naming_it(
    workdir: Path, args: list[str], message: str
) -> None:
    result = finml(args, workdir)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert message in output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output  # one line, no log records or stack traces around it
    assert not (workdir / "home" / "warehouse").exists()  # a failed check created nothing


def test_a_valid_bundle_exits_0(workdir: Path) -> None:
    result = finml(["bundle", "validate", "--root", str(REPO)], workdir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 jobs, 1 pipelines, 1 serving endpoints, valid" in result.stdout
