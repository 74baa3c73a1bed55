"""ModelValidator on a model logged to a real MLflow store: failures name the check and the
numbers."""

from __future__ import annotations

import pytest

from finml.errors import PromotionRejected
from finml.models.base import Preprocessor
from finml.models.data import split_from_frame
from finml.models.pyfunc import AnomalyPyfunc, log_pyfunc
from finml.models.roster import build
from finml.models.settings import ValidationSettings
from finml.models.synthetic import train_test
from finml.models.validator import ModelValidator


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory):
    import mlflow

    from finml.config import ProjectConfig
    from finml.registry import configure

    configure(ProjectConfig(home=tmp_path_factory.mktemp("validator") / "home"))
    train_frame, test_frame = train_test(2000, seed=5)
    train, test = split_from_frame(train_frame, "a"), split_from_frame(test_frame, "b")
    prep = Preprocessor(train.features).fit(train.frame)
    model = build("lightgbm", {"n_estimators": 30}, seed=1, n_jobs=1)
    model.fit(prep.transform(train.frame), train.y, train.features)
    with mlflow.start_run():
        info = log_pyfunc(AnomalyPyfunc(model, prep, 0.3), test.frame)
    return info.model_uri, test


def test_a_good_model_passes_every_check(logged) -> None:
    uri, test = logged
    report = ModelValidator(ValidationSettings(floors={"pr_auc": 0.3})).validate(uri, test)
    assert report.passed, report.failures
    assert [c.name for c in report.checks] == [
        "signature", "golden_rows", "metric_floors", "latency", "calibration"
    ]  # fmt: skip
    assert report.scores is not None and len(report.scores) == len(test.frame)


def test_failures_name_the_check_and_the_numbers(logged) -> None:
    uri, test = logged
    strict = ValidationSettings(floors={"pr_auc": 0.999}, latency_one_row_ms=0.001)
    report = ModelValidator(strict).validate(uri, test)
    assert not report.passed
    failed = dict(f.split(": ", 1) for f in report.failures)
    assert set(failed) == {"metric_floors", "latency"}
    assert "pr_auc: expected >= 0.999, got 0." in failed["metric_floors"]
    assert "budget 0.001 ms" in failed["latency"]
    with pytest.raises(PromotionRejected, match="failed validation: metric_floors: pr_auc"):
        report.raise_for_failures()


def test_a_signature_that_does_not_match_the_feature_table_fails_first(logged) -> None:
    uri, test = logged
    frame = test.frame.assign(new_feature=1.0)
    report = ModelValidator(ValidationSettings()).validate(uri, split_from_frame(frame, "test"))
    assert [c.name for c in report.checks] == ["signature"]
    assert "missing ['new_feature']" in report.failures[0]
