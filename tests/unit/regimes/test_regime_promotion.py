"""The regime model's champion/challenger gate: held-out split and log-likelihood against
hand computations, and three fits through a real local MLflow store and Delta audit table
(first promoted, a worse one rejected, a better one promoted)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest

from finml.config import ProjectConfig
from finml.errors import DataError
from finml.jobs.regimes import run_regimes
from finml.regimes.heldout import heldout_days, log_likelihood, split_heldout
from finml.regimes.promotion import MATRIX_TAG, REGIME_MODEL_AUDIT, decide, version_matrix
from finml.registry import (
    CHALLENGER,
    CHAMPION,
    PREVIOUS,
    REGIME_MODEL,
    by_alias,
    model_name,
    versions,
)
from finml.runtime.delta import DeltaTables

D = [date(2024, 3, day) for day in range(1, 7)]
MATRIX = np.array([[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])


def test_heldout_split_takes_the_last_dates_and_transitions_into_them() -> None:
    days = pd.DataFrame(
        {
            "symbol": ["AAA"] * 6 + ["BBB"] * 5 + ["CCC"],
            "trade_date": D + D[1:] + [D[5]],
            "regime_id": [0, 0, 1, 1, 2, 2, 1, 2, 2, 0, 0, 1],  # AAA, BBB, CCC
        }
    )
    held = split_heldout(days, fraction=0.2, min_days=1)  # 6 dates: ceil(1.2) = 2 held out
    assert held.days == 2 and held.first_date == D[4]
    # AAA d4->d5, d5->d6; BBB d4->d5, d5->d6; not BBB d6 -> CCC d6 (another symbol).
    assert held.origins.tolist() == [1, 2, 2, 0]
    assert held.targets.tolist() == [2, 2, 0, 0]
    assert held.fit_mask.tolist() == [True] * 4 + [False] * 2 + [True] * 3 + [False] * 3
    expected = math.log(0.1) + math.log(0.6) + math.log(0.2) + math.log(0.5)
    assert log_likelihood(MATRIX, held.origins, held.targets) == pytest.approx(expected, abs=1e-12)


def test_heldout_size_too_few_dates_and_zero_probabilities() -> None:
    assert heldout_days(15, 0.2, 1) == 3  # 0.2 * 15 is 3.0000000000000004 in floats
    assert heldout_days(50, 0.2, 3) == 10 and heldout_days(5, 0.2, 3) == 3
    days = pd.DataFrame({"symbol": "AAA", "trade_date": D[:4], "regime_id": [0, 1, 1, 2]})
    with pytest.raises(DataError, match=r"expected at least 5 trade dates .* got 4"):
        split_heldout(days, fraction=0.2, min_days=3)
    unsmoothed = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert log_likelihood(unsmoothed, np.array([0]), np.array([1])) == -math.inf


def test_decide_needs_a_strictly_higher_likelihood_plus_margin() -> None:
    assert decide(-10.0, None, 0.0, 4)[0] == "PROMOTE"
    assert decide(-10.0, -12.0, 0.0, 4)[0] == "PROMOTE"
    assert decide(-10.0, -10.0, 0.0, 4)[0] == "REJECT"  # a tie keeps the champion
    # a same-data refit scored against the champion's stored (rounded) matrix
    assert decide(-29.30669877081626, -29.3066987708, 0.0, 4)[0] == "REJECT"
    assert decide(-29.3066, -29.3067, 0.0, 4)[0] == "PROMOTE"
    assert decide(-10.0, -12.0, 2.0, 4)[0] == "REJECT"
    assert decide(-10.0, -12.0, 1.5, 4)[0] == "PROMOTE"
    assert decide(-math.inf, -12.0, 0.0, 4)[0] == "REJECT"
    _, reason = decide(-10.0, -10.0, 0.0, 4)
    assert "-10.0000 vs champion -10.0000 over 4 transitions" in reason


# --- three fits through MLflow and Delta -------------------------------------------------

VOLS = (0.1, 0.35, 0.9)  # annualised; thresholds 0.2 / 0.5 separate them
STICKY = [0] * 10 + [1] * 8 + [2] * 7 + [0] * 8 + [1] * 7 + [2] * 10
CYCLE = [i % 3 for i in range(50)]


def write_path(path, regimes: list[int], start: date) -> None:
    """Daily bars whose Parkinson range is exactly the regime's volatility (window 1)."""
    rows, close = [], 100.0
    rng = np.random.default_rng(len(regimes))
    for i, regime in enumerate(regimes):
        half = VOLS[regime] * math.sqrt(4 * math.log(2) / 252) / 2
        close *= math.exp(rng.normal(0, 0.01))
        rows.append(
            {
                "timestamp": (start + timedelta(days=i)).isoformat(),
                "open": close,
                "high": close * math.exp(half),
                "low": close * math.exp(-half),
                "close": close,
                "volume": 1000,
            }
        )
    pd.DataFrame(rows).to_csv(path, index=False)


def fixed_config(config: ProjectConfig) -> ProjectConfig:
    # the four studies have their own tests (test_regime_experiments.py): not logged here
    regimes = {"method": "thresholds", "thresholds": (0.2, 0.5), "daily_window": 1}
    return config.model_copy(update={"regimes": regimes | {"bootstrap": 10, "experiments": False}})


def test_first_fit_promoted_worse_rejected_better_promoted(config, tmp_path) -> None:
    config = fixed_config(config)
    tables = DeltaTables.from_config(config, None)
    name = model_name(config, REGIME_MODEL)
    fits = {
        # sticky regimes throughout: the first champion learns "stay"
        "first": STICKY,
        # fitted on a cycle, held out on sticky days: worse than the champion there
        "worse": CYCLE[:40] + [0] * 5 + [2] * 5,
        # a cycle throughout: the champion's "stay" explains its held-out days badly
        "better": CYCLE,
    }
    reports, aliases = {}, {}
    for i, (key, path) in enumerate(fits.items()):
        csv = tmp_path / f"{key}.csv"
        write_path(csv, path, date(2024, 1, 1) + timedelta(days=100 * i))
        reports[key] = run_regimes(config, None, tables, csv, symbol="SPY")
        assert reports[key].days["regime_id"].tolist() == path  # the labels are the path
        held = {alias: by_alias(config, name, alias) for alias in (CHAMPION, CHALLENGER)}
        aliases[key] = {alias: v and v.version for alias, v in held.items()}
    first, worse, better = (reports[k].decision for k in fits)
    rows = tables.table(REGIME_MODEL_AUDIT).to_arrow().to_pylist()
    audit = sorted(rows, key=lambda r: r["decided_at"])
    assert [r["decision"] for r in audit] == ["PROMOTE", "REJECT", "PROMOTE"]
    assert [r["challenger_version"] for r in audit] == ["1", "2", "3"]
    assert [r["champion_version"] for r in audit] == [None, "1", "1"]

    # (1) no champion: promoted, nothing to compare with
    assert first.champion_loglik is None and "no champion yet" in audit[0]["reason"]
    assert audit[0]["heldout_transitions"] == 10

    # (2) the champion (v1) beats the challenger on the challenger's held-out transitions:
    # rejected, the champion does not move, the challenger keeps its alias and is tagged.
    held = reports["worse"].heldout
    champion_matrix = reports["first"].chain.matrix
    expected_champion = float(np.log(champion_matrix[held.origins, held.targets]).sum())
    expected_challenger = float(
        np.log(reports["worse"].chain.matrix[held.origins, held.targets]).sum()
    )
    assert audit[1]["champion_loglik"] == pytest.approx(expected_champion, abs=1e-9)
    assert audit[1]["challenger_loglik"] == pytest.approx(expected_challenger, abs=1e-9)
    assert expected_challenger < expected_champion
    assert "does not beat the champion" in audit[1]["reason"]
    assert worse.decision == "REJECT" and worse.champion_after == 1
    assert aliases["worse"] == {CHAMPION: 1, CHALLENGER: 2}
    v2 = next(v for v in versions(config, name) if v.version == 2)
    assert v2.tags["finml.gate_decision"] == "REJECT"
    assert "does not beat" in v2.tags["finml.gate_reason"]

    # The champion's held-out score equals what its loaded MLflow model (v1) predicts.
    model = mlflow.pyfunc.load_model(f"models:/{name}/1")
    regimes = [("Normal", "Stress", "Crisis")[i] for i in held.origins]
    probs = model.predict(pd.DataFrame({"regime": regimes, "steps": [1] * len(regimes)}))
    columns = ["p_normal", "p_stress", "p_crisis"]
    predicted = probs[columns].to_numpy()[np.arange(held.transitions), held.targets]
    assert float(np.log(predicted).sum()) == pytest.approx(expected_champion, abs=1e-9)

    # (3) better: promoted over v1, which becomes previous-champion
    assert better.decision == "PROMOTE" and better.challenger_loglik > better.champion_loglik
    assert aliases["first"][CHAMPION] == 1
    assert by_alias(config, name, CHAMPION).version == 3
    assert by_alias(config, name, PREVIOUS).version == 1
    assert "regime_model v3 registered as @challenger, gate PROMOTE" in reports["better"].summary()


def test_champion_matrix_is_read_from_its_run_without_the_tag(config, tmp_path) -> None:
    config = fixed_config(config)
    tables = DeltaTables.from_config(config, None)
    csv = tmp_path / "spy.csv"
    write_path(csv, STICKY, date(2024, 1, 1))
    report = run_regimes(config, None, tables, csv, symbol="SPY")
    champion = by_alias(config, model_name(config, REGIME_MODEL), CHAMPION)
    assert len(champion.tags[MATRIX_TAG]) < 255  # fits Unity Catalog's tag values
    assert np.allclose(version_matrix(champion), report.chain.matrix, rtol=0, atol=1e-12)
    untagged = replace(champion, tags={k: v for k, v in champion.tags.items() if k != MATRIX_TAG})
    assert np.allclose(version_matrix(untagged), report.chain.matrix, atol=1e-15)
