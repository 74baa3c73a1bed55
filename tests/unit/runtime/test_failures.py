"""Spark/JVM failures in one line: the parts that need no JVM, and the task boundary.

The Java cause chains themselves (a corrupt Parquet file, a full disk) and the trace a task
logs are tested on real processes in tests/integration/cli/test_spark_failures.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.errors import PySparkRuntimeError

from finml.errors import JobError
from finml.jobs.entry import run_task
from finml.runtime.failures import (
    JavaCause,
    _embedded_causes,
    spark_failure,
    summarise,
    table_of,
)


def gateway_exited() -> PySparkRuntimeError:
    """What pyspark raises when the JVM could not start (built by pyspark, as it does)."""
    return PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})


def test_a_jvm_that_could_not_start_is_one_line_saying_so() -> None:
    line = summarise(gateway_exited())
    assert line.startswith("Spark could not start: [JAVA_GATEWAY_EXITED] Java gateway process")
    assert "JAVA_HOME" in line and "\n" not in line


def test_a_spark_failure_is_found_behind_the_exceptions_raised_from_it() -> None:
    cause = gateway_exited()
    try:
        try:
            raise cause
        except PySparkRuntimeError as exc:
            raise RuntimeError("while starting") from exc
    except RuntimeError as wrapper:
        assert spark_failure(wrapper) is cause
    assert spark_failure(ValueError("not spark")) is None


def test_the_table_is_the_folder_with_a_delta_log_or_the_owner_of_a_staging_write(
    tmp_path: Path,
) -> None:
    table = tmp_path / "warehouse" / "finml_local" / "markets" / "silver_trades"
    (table / "_delta_log").mkdir(parents=True)
    part = table / "day=2024-01-02" / "part-0.parquet"
    assert table_of(part) == "finml_local.markets.silver_trades"
    staging = tmp_path / "warehouse" / "c" / "s" / "new_table" / "_finml_staging" / "ab12"
    assert table_of(staging) == "c.s.new_table"  # no _delta_log yet: its first write failed
    assert table_of(tmp_path / "elsewhere" / "x.parquet") is None


def test_a_java_cause_reads_as_class_and_the_informative_line() -> None:
    assert JavaCause("java.io.IOException", "No space left on device").text == (
        "java.io.IOException: No space left on device"
    )
    python_worker = "Traceback (most recent call last):\n  File x\nValueError: bad row\n"
    assert JavaCause("org.apache.spark.api.python.PythonException", python_worker).text == (
        "org.apache.spark.api.python.PythonException: ValueError: bad row"
    )
    assert JavaCause("java.lang.NullPointerException", "").text == "java.lang.NullPointerException"


def test_the_java_failure_inside_a_python_callbacks_traceback_is_read_from_its_text() -> None:
    # What a failed foreachBatch function sends back to the JVM: its Python traceback, which
    # carries the Java failure of the read it made only as text.
    text = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "stages.py", line 9, in execute_micro_batch',
            "py4j.protocol.Py4JJavaError: An error occurred while calling o12.count.",
            ": org.apache.spark.SparkException: [FAILED_READ_FILE.NO_HINT] file:/w/t/p.parquet",
            "Caused by: java.lang.RuntimeException: /w/t/p.parquet is not a Parquet file",
            "\tat org.apache.parquet.hadoop.ParquetFileReader.readFooter(X.java:1)",
        ]
    )
    assert _embedded_causes(text) == [
        JavaCause(
            "org.apache.spark.SparkException", "[FAILED_READ_FILE.NO_HINT] file:/w/t/p.parquet"
        ),
        JavaCause("java.lang.RuntimeException", "/w/t/p.parquet is not a Parquet file"),
    ]
    assert _embedded_causes("Traceback (most recent call last):\nValueError: x") == []


def test_a_task_ends_with_one_line_naming_the_cause(capfd: pytest.CaptureFixture[str]) -> None:
    def task(argv: list[str]) -> None:
        raise JobError(f"task parameter --limit: expected a number, got {argv[0]!r}")

    assert run_task(task, ["x"]) == 1
    last = capfd.readouterr().err.strip().splitlines()[-1]
    assert last == "error: task parameter --limit: expected a number, got 'x'"


def test_a_task_whose_jvm_could_not_start_fails_in_one_line(
    capfd: pytest.CaptureFixture[str],
) -> None:
    def task(argv: list[str]) -> None:
        raise gateway_exited()

    assert run_task(task, []) == 1
    last = capfd.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: Spark could not start: [JAVA_GATEWAY_EXITED]")


def test_a_task_that_succeeds_exits_zero_and_a_bug_keeps_its_traceback() -> None:
    assert run_task(lambda argv: None, []) == 0
    with pytest.raises(ZeroDivisionError):
        run_task(lambda argv: 1 / 0, [])
