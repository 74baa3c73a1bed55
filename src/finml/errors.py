"""FinML's exceptions: one root, one subclass per kind of failure.

Every message says what was expected and what was found, and names the field, table or
file involved, so a user can fix the input without reading a traceback.
"""

from __future__ import annotations


class FinmlError(Exception):
    """Root of every error FinML raises on purpose."""


class ConfigError(FinmlError):
    """A configuration file, value or environment variable is invalid."""


class SecretsError(ConfigError):
    """An encrypted secrets file could not be decrypted or read (never says a value)."""


class InvalidIdentifier(FinmlError, ValueError):
    """A catalog, schema, table or column name is not a safe identifier."""


class TableNotFound(FinmlError):
    """A Delta table that was expected to exist does not."""


class SchemaMismatch(FinmlError):
    """Data does not match a table's schema and evolution was not allowed."""


class RunLocked(FinmlError):
    """Another run holds the lock on the same home and tables."""


class StorageFull(FinmlError, OSError):
    """A write found its file system full (or over quota); names the file and the table."""


class DeltaEngineError(FinmlError):
    """The Delta engine could not be selected or failed an operation."""


class ExpectationFailed(FinmlError):
    """A data-quality expectation with action ``fail`` was violated."""


class DataError(FinmlError, ValueError):
    """Input data is malformed in a way that cannot be quarantined."""


class SimulatorError(FinmlError):
    """The market simulator was asked for something it cannot produce."""


class PromotionRejected(FinmlError):
    """A model failed the champion/challenger gate or validation."""


class AlertNotFound(FinmlError):
    """No alert in the ``alerts`` table has the given id."""


class ModelNotFound(FinmlError):
    """A registered model, version or alias does not exist."""


class JobError(FinmlError):
    """A bundle job or task definition is invalid or a task failed."""


class ScheduleError(JobError):
    """A job's schedule (Quartz cron expression, time zone, pause status) is not usable."""


class CollectorError(FinmlError):
    """A market-data collector could not fetch or parse its source."""


class DeclarativePipelineFailed(FinmlError):
    """A declarative pipeline run (``spark-pipelines``) could not start or failed."""
