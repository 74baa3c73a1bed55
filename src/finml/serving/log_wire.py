"""The wire between the serving process and the inference-log writer process.

Parent to child (the child's stdin): one frame per :class:`~finml.serving.inference_log.LogBatch`,
``<u32 payload length><u64 sequence number><payload>``, the payload a pickle of plain values
(times as microseconds since the epoch, the features as raw float64 bytes, the feature
names as a pickle cached per name tuple). Encoding a single-record batch costs ~3 µs on the
request path; a ``datetime`` alone would cost ~13 µs to pickle.

Child to parent (its stdout): one line per event, ``ready``, ``ack <seq>`` (every frame up to
``seq`` is committed to Delta) or ``error`` (a commit failed; its rows are kept and retried).

Both ends are the same installed package; the pickles never cross a trust boundary.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import numpy as np

from finml.serving.inference_log import LogBatch, epoch_micros
from finml.serving.records import Records

_HEADER = struct.Struct("<IQ")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
READY, ACK, ERROR = b"ready", b"ack", b"error"


def encode(batch: LogBatch) -> bytes:
    """The payload of ``batch`` (see :func:`frame` for the header)."""
    records = batch.records
    values = np.ascontiguousarray(records.values, dtype=np.float64)
    return pickle.dumps(
        (
            batch.request_id,
            epoch_micros(batch.logged_at),
            batch.model_name,
            batch.model_version,
            batch.variant,
            _names_blob(batch.names),
            values.tobytes(),
            values.shape,
            records.symbols,
            [None if t is None else epoch_micros(t) for t in records.ts],
            records.trade_ids,
            batch.scores,
            batch.predictions,
            batch.latency_ms,
        ),
        protocol=5,
    )


def frame(seq: int, payload: bytes) -> bytes:
    """The header of the frame of ``payload`` with sequence number ``seq``."""
    return _HEADER.pack(len(payload), seq)


def decode(payload: bytes) -> LogBatch:
    """The :class:`LogBatch` of a payload; times come back as UTC-aware datetimes."""
    (request_id, logged_at, model_name, version, variant, names, raw, shape, symbols, ts,
     trade_ids, scores, predictions, latency_ms) = pickle.loads(payload)  # noqa: S301  # fmt: skip
    values = np.frombuffer(raw, dtype=np.float64).reshape(shape)
    records = Records(
        values, symbols, [None if t is None else _from_micros(t) for t in ts], trade_ids
    )
    return LogBatch(
        request_id,
        _from_micros(logged_at),
        model_name,
        version,
        variant,
        _names(names),
        records,
        scores,
        predictions,
        latency_ms,
    )


class FrameReader:
    """Splits a byte stream into ``(seq, payload)`` frames, whatever the chunk boundaries."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[tuple[int, bytes]]:
        """Every frame completed by ``data``, in order; a partial frame waits for more."""
        self._buffer += data
        start = 0
        while len(self._buffer) - start >= _HEADER.size:
            length, seq = _HEADER.unpack_from(self._buffer, start)
            end = start + _HEADER.size + length
            if end > len(self._buffer):
                break
            yield seq, bytes(self._buffer[start + _HEADER.size : end])
            start = end
        del self._buffer[:start]

    @property
    def partial(self) -> int:
        """Bytes of an incomplete frame still waiting for the rest."""
        return len(self._buffer)


def ack(seq: int) -> bytes:
    return b"%s %d\n" % (ACK, seq)


@lru_cache(maxsize=64)
def _names_blob(names: tuple[str, ...]) -> bytes:
    return pickle.dumps(names, protocol=5)


@lru_cache(maxsize=64)
def _names(blob: bytes) -> tuple[str, ...]:
    names: tuple[str, ...] = pickle.loads(blob)  # noqa: S301 - our own frames
    return names


def _from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)
