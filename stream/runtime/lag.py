"""Consumer lag per partition, in records, for the worker's two consumer groups.

* the detector's group (``<app_id>-detector``, :mod:`stream.kafka.batch_consumer`): the
  partition's end offset minus the position the detector has committed;
* Faust's group (``<app_id>``: correlator, incidents): the end offset minus the offset
  Faust committed (before its first commit on a partition: minus its read position).

End offsets are the highwater marks the consumers learnt from their last fetch, so
computing lag costs no request to the broker. Partitions whose end offset or position is
not known yet are left out rather than reported as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Lags = dict[tuple[str, int], int]


def detector_lags(consumer: Any, positions: Mapping[Any, int]) -> Lags:
    """``consumer``: an aiokafka consumer; ``positions``: committed offset per partition."""
    out: Lags = {}
    if consumer is None:
        return out
    for tp in consumer.assignment():
        highwater, position = consumer.highwater(tp), positions.get(tp)
        if highwater is not None and position is not None:
            out[(tp.topic, tp.partition)] = max(0, highwater - position)
    return out


def faust_lags(consumer: Any) -> Lags:
    """``consumer``: a Faust app's consumer (``app.consumer``), started or not."""
    out: Lags = {}
    try:
        assigned = consumer.assignment()
    except Exception:  # not started yet, or stopping: nothing to report
        return out
    committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    read: Mapping[Any, int | None] = getattr(consumer, "_read_offset", {})
    for tp in assigned:
        try:
            highwater = consumer.highwater(tp)
        except Exception:
            continue
        position = committed.get(tp)
        if position is None:
            last_read = read.get(tp)
            position = last_read + 1 if last_read is not None else None
        if highwater is not None and position is not None:
            out[(tp.topic, tp.partition)] = max(0, highwater - position)
    return out
