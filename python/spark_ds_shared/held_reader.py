"""Stream reads of sources that cannot replay (classic and quorum queues, MQTT): one consumer,
held by the driver for the whole query.

The native module provides ``open_held_consumer(options, schema)``: a ``HeldConsumer`` whose
deliveries are numbered 1, 2, … in the order they arrive. Offsets pair a number with the
consumer's session id, since the numbers mean nothing to another consumer. A micro-batch's
rows are built on the driver and travel to the executors inside its partitions as Arrow IPC.
Its deliveries are acknowledged once Spark has committed it; a query that dies leaves them
unacknowledged, the source delivers them again, and a micro-batch planned by the dead
session reads nothing after the restart (at-least-once).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from pyspark.sql.datasource import InputPartition

from . import features
from .base import Connector, NativeBacked
from .errors import ConfigError

_Bases: tuple[type, ...] = features.stream_reader_bases()

# The `kind` of every offset this reader checkpoints.
OFFSET_KIND = "held"


class HeldPartition(InputPartition):
    """Part of a micro-batch: its rows as Arrow IPC stream bytes, or None for no rows."""


def ipc_bytes(batch: Any) -> bytes:
    """One pyarrow RecordBatch as an Arrow IPC stream."""
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _smallest(*limits: int | None) -> int | None:
    given = [int(x) for x in limits if x is not None]
    return min(given) if given else None


class HeldStreamReader(NativeBacked, *_Bases):  # type: ignore[misc]
    """Micro-batches of whatever the driver's consumer took, acknowledged after commit."""

    def __init__(self, connector: Connector, options: Mapping[str, str], schema: Any) -> None:
        self.connector = connector
        self.options = dict(options)
        # The pyarrow schema every batch is built in (the one Spark planned with).
        self.schema = schema
        # Only the driver's reader opens a consumer; copies sent to executors never do.
        self._consumer: Any = None
        self._session: str | None = None
        # The end of the last micro-batch planned, and of the last acknowledged, this session.
        self._planned = 0
        self._acked = 0
        # Trigger.AvailableNow's last delivery number.
        self._cap: int | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_consumer"] = None
        return state

    def _open(self) -> Any:
        if self._consumer is None:
            self._consumer = self.native().open_held_consumer(self.options, self.schema)
            self._session = uuid.uuid4().hex
            self._planned = self._acked = 0
            self.log.info("%s stream: consumer session %s", self.connector.system, self._session)
        return self._consumer

    def _offset(self, seq: int) -> dict[str, Any]:
        return {"kind": OFFSET_KIND, "session": self._session, "seq": seq}

    def _position(self, offset: Mapping[str, Any]) -> tuple[str | None, int]:
        seq = offset.get("seq")
        if offset.get("kind") != OFFSET_KIND or not isinstance(seq, int):
            error = ConfigError(
                f"[{self.connector.system}] stream: the checkpoint holds offset "
                f"{json.dumps(dict(offset))}, which is not one a consumer-held read writes "
                "(it belongs to a query of another queue type or source): start this query "
                "with a new checkpointLocation"
            )
            error.system, error.operation = self.connector.system, "stream offsets"
            raise error
        session = offset.get("session")
        return (session if isinstance(session, str) else None), seq

    def _after(self, offset: Mapping[str, Any]) -> int:
        """The delivery number of this session that `offset` lies at (0 for another session)."""
        session, seq = self._position(offset)
        return seq if session == self._session else 0

    def _limits(self, limit: Any) -> tuple[int | None, int | None]:
        settings = self.settings()
        max_messages = _smallest(
            settings.get("maxRowsPerTrigger"), getattr(limit, "max_rows", None)
        )
        max_bytes = _smallest(settings.get("maxBytesPerTrigger"), getattr(limit, "max_bytes", None))
        return max_messages, max_bytes

    def _acknowledge(self, through: int) -> None:
        """Acknowledges every delivery through `through`: Spark committed them."""
        if through > self._acked:
            self._consumer.commit(through)
            self._acked = through

    def initialOffset(self) -> dict[str, Any]:
        self._open()
        return self._offset(0)

    def latestOffset(
        self, start: dict[str, Any] | None = None, limit: Any = None
    ) -> dict[str, Any]:
        if start is not None:
            self._position(start)  # a checkpoint of another query fails before consuming
        consumer = self._open()
        # Spark 4.0/4.1 give no start: the next micro-batch follows the last one planned.
        after = self._planned if start is None else self._after(start)
        # Spark asks for the next micro-batch only once the previous one is in its commit
        # log; its commit() call comes later, after it has planned the next one. Acknowledging
        # now frees the prefetch the next micro-batch needs.
        self._acknowledge(after)
        max_messages, max_bytes = self._limits(limit)
        if self._cap is not None:
            room = self._cap - after
            if room <= 0:
                return self._offset(after)
            max_messages = _smallest(max_messages, room)
        end: int = consumer.poll(after, max_messages, max_bytes)
        self._planned = end
        return self._offset(end)

    def getDefaultReadLimit(self) -> Any:
        from pyspark.sql.streaming import datasource

        max_messages, max_bytes = self._limits(None)
        if max_messages is not None:
            return datasource.ReadMaxRows(max_messages)
        if max_bytes is not None and hasattr(datasource, "ReadMaxBytes"):
            return datasource.ReadMaxBytes(max_bytes)
        return datasource.ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._cap = int(self._open().available_now())
        self.log.info(
            "%s stream: AvailableNow reads up to delivery %d", self.connector.system, self._cap
        )

    def partitions(self, start: dict[str, Any], end: dict[str, Any]) -> list[InputPartition]:
        session, through = self._position(end)
        if self._consumer is None or session != self._session:
            # Planned by a consumer that is gone: its deliveries were never acknowledged, so
            # the source gives them to this consumer again, in a later micro-batch.
            self.log.info(
                "%s stream: micro-batch %s was planned by an earlier consumer; its messages "
                "are delivered again",
                self.connector.system,
                json.dumps(end),
            )
            return [HeldPartition(None)]
        batches = self._consumer.batches(self._after(start), through)
        return [HeldPartition(ipc_bytes(b)) for b in batches] or [HeldPartition(None)]

    def read(self, partition: Any) -> Iterator[Any]:
        if partition.value is None:
            return
        import pyarrow as pa

        with pa.ipc.open_stream(partition.value) as stream:
            yield from stream

    def commit(self, end: dict[str, Any]) -> None:
        session, through = self._position(end)
        if self._consumer is not None and session == self._session:
            self._acknowledge(through)
        self.log.info("%s stream: committed up to %s", self.connector.system, json.dumps(end))

    def stop(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        if self._acked < self._planned and not features.has_admission_control():
            # Spark before 4.2 commits a source's micro-batch only when it plans the next:
            # after the last micro-batch of Trigger.AvailableNow or Once it never does.
            self.log.warning(
                "%s stream: the last %d messages read were not acknowledged, since this Spark "
                "does not tell a source that its last micro-batch committed (Spark 4.2+ "
                "does); they go back to the source and the next run reads them again. Use a "
                "processingTime trigger, or Spark 4.2+, to avoid these duplicates.",
                self.connector.system,
                self._planned - self._acked,
            )
        # What is not acknowledged goes back to the source.
        consumer.close()
