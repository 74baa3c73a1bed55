"""Secrets from a real sops file never reach logs, Delta tables, MLflow or exception text.

One process (debug-level JSON logs) loads a project whose ``secrets/local.enc.yaml`` holds
the webhook HMAC secret and a webhook URL carrying a token; it fits and registers the regime
model (MLflow params, tags, artifacts; Delta tables), sends an alert through the channel to
a loopback receiver (the ``alerts`` table) and asks for a missing secret. Then every log
line, table row, MLflow store byte and artifact is searched for the values.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

from secret_tools import REPO, age_key, encrypt, tool

HMAC = "hmac-Kq3-webhook-secret"
URL_TOKEN = "urltok-P9w-in-the-path"
API_KEY = "fh-Vb2-never-logged"
VALUES = (HMAC, URL_TOKEN, API_KEY)

CONFIG = """
project: finml
environments:
  local:
    catalog: finml_local
monitoring:
  alerts:
    channels:
      - {kind: webhook, name: oncall, url_env: FINML_ONCALL_WEBHOOK_URL}
regimes: {method: thresholds, thresholds: [0.2, 0.5], daily_window: 1, bootstrap: 10,
          experiments: false}
"""

DRIVER = """
import http.server, json, sys, threading
import numpy as np, pandas as pd
from finml.config import ProjectConfig, secret
from finml.errors import FinmlError
from finml.jobs.regimes import run_regimes
from finml.monitoring.alerts import Alert, AlertManager
from finml.monitoring.settings import MonitoringSettings
from finml.runtime.delta import DeltaTables
from finml.vocabulary import AlertSeverity, AlertType

seen = {}
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        seen["path_ok"] = self.path == "/hook/" + sys.argv[1]
        seen["signed"] = self.headers.get("X-FinML-Signature", "").startswith("sha256=")
        self.send_response(200); self.end_headers()
    def log_message(self, *args): pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()

config = ProjectConfig.load()
tables = DeltaTables.from_config(config, None)
rng = np.random.default_rng(7)
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
bars = pd.DataFrame({"timestamp": pd.date_range("2024-01-01", periods=60).astype(str),
                     "open": close, "high": close * 1.01, "low": close * 0.99,
                     "close": close, "volume": 1000})
bars.to_csv("bars.csv", index=False)
run_regimes(config, None, tables, "bars.csv", symbol="SPY")
settings = MonitoringSettings.from_config(config).alerts
manager = AlertManager(settings, tables, secrets=config.secrets)
[row] = manager.send(Alert(AlertType.DRIFT, AlertSeverity.HIGH, "psi over threshold"))
seen["status"] = row["status"]
try:
    secret("FINML_MISSING_SECRET", required=True, config=config)
except FinmlError as exc:
    seen["error"] = str(exc)
print(json.dumps(seen))
"""


@dataclass(frozen=True)
class Project:
    folder: Path
    env: dict[str, str]
    port: int


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project whose ``secrets/local.enc.yaml`` is encrypted to a throwaway age key."""
    key = age_key(tmp_path)
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "project_config.yml").write_text(CONFIG)
    with socket.socket() as probe:  # a free loopback port for the driver's receiver
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = f"http://127.0.0.1:{port}/hook/{URL_TOKEN}"
    plain = (
        f"FINML_ALERT_WEBHOOK_SECRET: {HMAC}\nFINML_ONCALL_WEBHOOK_URL: {receiver}\n"
        f"FINNHUB_API_KEY: {API_KEY}\n"
    )
    encrypt(plain, folder / "secrets" / "local.enc.yaml", key.recipient)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FINML_", "SOPS_"))},
        "PYTHONPATH": str(REPO / "src"),
        "FINML_HOME": str(folder / ".finml"),
        "FINML_LOG_LEVEL": "DEBUG",
        "FINML_LOG_FORMAT": "json",
        "FINML_SOPS": tool("sops"),
        "SOPS_AGE_KEY_FILE": str(key.file),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    return Project(folder, env, port)


def test_secrets_check_names_origins_and_prints_no_value(project: Project) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finml.cli import main; main()",
            "secrets",
            "check",
            "--json",
            "--require",
            "FINNHUB_API_KEY",
        ],
        cwd=project.folder,
        env={**project.env, "FINNHUB_API_KEY": "from-env"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["file_used"] and report["file"].endswith("secrets/local.enc.yaml")
    assert report["secrets"]["FINNHUB_API_KEY"] == "environment"  # the variable wins
    assert report["secrets"]["FINML_ALERT_WEBHOOK_SECRET"] == "file"
    assert report["secrets"]["FINML_ONCALL_WEBHOOK_URL"] == "file"  # the channel's url_env
    assert report["secrets"]["FINML_API_TOKEN"] == "unset"
    _assert_absent(done.stdout + done.stderr, "secrets check")
    assert "from-env" not in done.stdout + done.stderr
    missing = subprocess.run(
        [
            sys.executable,
            "-c",
            "from finml.cli import main; main()",
            "secrets",
            "check",
            "--require",
            "FINML_API_TOKEN",
        ],
        cwd=project.folder,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and "FINML_API_TOKEN" in missing.stderr


def test_secret_values_reach_no_log_table_mlflow_run_or_error(project: Project) -> None:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, URL_TOKEN, str(project.port)],
        cwd=project.folder,
        env=project.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # the secrets were used: the receiver got the signed alert at the secret URL
    assert seen["path_ok"] and seen["signed"] and seen["status"] == "delivered"
    assert "FINML_MISSING_SECRET: expected a secret" in seen["error"]
    assert "secrets_decrypted" in done.stderr  # debug-level logs were captured
    _assert_absent(done.stdout + done.stderr, "the process output and logs")
    home = project.folder / ".finml"
    _assert_absent_from_tables(home / "warehouse")
    scanned = [
        file  # mlflow.db (runs, params, tags, registry) and the MLflow artifacts
        for file in home.rglob("*")
        if file.is_file() and file.suffix != ".parquet" and "warehouse" not in file.parts
    ]
    assert home / "mlflow.db" in scanned and any(f.name == "analytics.json" for f in scanned)
    for file in scanned:
        _assert_absent(file.read_bytes().decode("latin-1"), str(file))


def _assert_absent(text: str, where: str) -> None:
    for value in VALUES:
        assert value not in text, f"a secret value is in {where}"


def _assert_absent_from_tables(warehouse: Path) -> None:
    logs = sorted(warehouse.rglob("_delta_log"))
    assert len(logs) >= 2  # regime_states and alerts at least
    for log in logs:
        rows = DeltaTable(str(log.parent)).to_pyarrow_dataset().to_table().to_pylist()
        _assert_absent(json.dumps(rows, default=str), f"table {log.parent.name}")
