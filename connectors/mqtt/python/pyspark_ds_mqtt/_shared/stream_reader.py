"""Stream reads whose offsets, partitions and batches come from the native module.

The native module provides ``stream_initial_offset``, ``stream_latest_offset`` and
``stream_partitions`` (offsets are JSON strings Spark checkpoints as they are) and reads a
micro-batch's partitions with the same ``open_reader`` as batch reads. On Spark 4.2+ the
reader takes part in admission control (``maxRowsPerTrigger``) and ``Trigger.AvailableNow``;
on older Spark, which asks for the latest offset without a start, it reads all that is new.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from . import features
from .base import Connector, NativeBacked
from .errors import ConfigError
from .reader import NativePartition

_Bases: tuple[type, ...] = features.stream_reader_bases()


class NativeStreamReader(NativeBacked, *_Bases):  # type: ignore[misc]
    """Micro-batches `(start, end]` of a source read in order; a replay reads them again."""

    def __init__(self, connector: Connector, options: Mapping[str, str], schema: Any) -> None:
        self.connector = connector
        self.options = dict(options)
        # The pyarrow schema every batch is built in (the one Spark planned with).
        self.schema = schema
        # Trigger.AvailableNow's target: no micro-batch ends beyond it.
        self.cap: str | None = None
        max_rows = self.settings().get("maxRowsPerTrigger")
        if max_rows is not None and not features.has_admission_control():
            error = ConfigError(
                f"[{connector.system}] options: option `maxRowsPerTrigger` needs Spark 4.2 or "
                "newer (admission control for Python stream readers); this Spark asks a "
                "stream for its latest offset without a start, so it cannot be limited. "
                "Upgrade Spark, or leave the option out to read everything new per micro-batch."
            )
            error.system, error.operation = connector.system, "options"
            raise error

    def initialOffset(self) -> dict[str, Any]:
        offset: dict[str, Any] = json.loads(self.native().stream_initial_offset(self.options))
        return offset

    def latestOffset(
        self, start: dict[str, Any] | None = None, limit: Any = None
    ) -> dict[str, Any]:
        # Spark 4.0/4.1 call this without arguments; 4.2+ pass the batch's start and limit.
        # ReadMaxRows holds `max_rows`; any other limit (ReadAllAvailable, …) reads all.
        max_rows = getattr(limit, "max_rows", None) if limit is not None else None
        offset = self.native().stream_latest_offset(
            self.options,
            None if start is None else json.dumps(start),
            None if max_rows is None else int(max_rows),
            self.cap,
        )
        latest: dict[str, Any] = json.loads(offset)
        return latest

    def getDefaultReadLimit(self) -> Any:
        from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadMaxRows

        max_rows = self.settings().get("maxRowsPerTrigger")
        return ReadAllAvailable() if max_rows is None else ReadMaxRows(int(max_rows))

    def prepareForTriggerAvailableNow(self) -> None:
        self.cap = self.native().stream_latest_offset(self.options, None, None, None)
        self.log.info("%s stream: AvailableNow reads up to %s", self.connector.system, self.cap)

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> list[Any]:
        planned = self.native().stream_partitions(self.options, json.dumps(start), json.dumps(end))
        return [NativePartition(p) for p in planned]

    def read(self, partition: Any) -> Iterator[Any]:
        stream = self.native().open_reader(
            self.options, [], str(partition.value), None, schema=self.schema
        )
        try:
            yield from stream
        finally:
            stream.close()

    def commit(self, end: dict[str, Any]) -> None:
        # Nothing to acknowledge: the source keeps every document; the checkpoint is the truth.
        self.log.info("%s stream: committed up to %s", self.connector.system, json.dumps(end))
