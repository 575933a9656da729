"""A pure-Python RabbitMQ stream-queue data source on `pika`, as a competent user writes one.

No Python data source for RabbitMQ is published on PyPI; this is the one a user who knows
stream queues would write with the standard client, `pika`'s `BlockingConnection`:

- **read**: the driver finds the stream's last offset (a consumer at `last` gets the
  stream's last chunk; the highest offset before it goes quiet is the end: AMQP 0-9-1 has
  no other way to ask) and splits `[first, last]` into offset ranges of
  `offsetsPerPartition` (250,000, spark-ds's default, so both plan the same partitions).
  Each task consumes its range with `x-stream-offset`, `basic_qos` prefetch 2,000,
  acknowledges every 1,000 deliveries with `multiple=True` (a stream needs acks for
  credit, nothing else) and yields one tuple per message with every column of
  spark-ds-rabbitmq's message schema.
- **write**: one connection per task, `confirm_delivery()`, then `basic_publish` of each
  row's `body` with `mandatory` and persistent delivery: pika's blocking channel waits for
  each confirm (a nack or a returned message raises), the guarantee spark-ds gives.

Tuned honestly: pika's consumer generator (its fastest blocking consume path), acks in
batches, one connection and channel per task (none per message), a plain tuple per
message. Publishing is one confirm round trip per message: a blocking channel has no
other way to confirm, and confirms are the guarantee. A task that has read its range stops
by closing its connection: pika's cancel rejects the deliveries it holds, which a stream
queue answers by closing the connection (540), so that one error is expected and ignored.

Format `rabbitmq_py`; options: host (127.0.0.1), port (5672), vhost (/), username,
password, queue, startingOffsets (`first` or an offset), endingOffsets (`latest` or an
offset, exclusive), offsetsPerPartition (250000), prefetchCount (2000), exchange (""),
routingKey (the queue).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceWriter,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

OFFSET_HEADER = "x-stream-offset"
# The read schema: every column spark-ds-rabbitmq's default read has (workload.RABBIT_DDL).
SCHEMA = (
    "body binary, routing_key string, exchange string, headers map<string,string>, "
    "content_type string, content_encoding string, message_id string, "
    "correlation_id string, reply_to string, expiration string, type string, "
    "user_id string, app_id string, timestamp timestamp, delivery_mode int, priority int, "
    "redelivered boolean, offset bigint"
)
UTC = dt.timezone.utc


def lowered(options: Any) -> dict[str, str]:
    """Spark's options with lower-cased keys (it matches them case-insensitively)."""
    return {str(k).lower(): str(v) for k, v in options.items()}


def connect(options: dict[str, str]) -> Any:
    import pika

    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host=options.get("host", "127.0.0.1"),
            port=int(options.get("port", "5672")),
            virtual_host=options.get("vhost", "/"),
            credentials=pika.PlainCredentials(options["username"], options["password"]),
        )
    )


def close_quietly(connection: Any) -> None:
    """Closes a consuming connection. pika's close cancels the consumer and rejects the
    prefetched deliveries it has not handed out; a stream queue refuses rejects and closes
    the connection itself (540 NOT_IMPLEMENTED). Nothing is lost: reading removes nothing."""
    import pika.exceptions

    with contextlib.suppress(pika.exceptions.AMQPError):
        connection.close()


def last_offset(options: dict[str, str], queue: str) -> int | None:
    """The stream's last offset, or None when it is empty: a consumer at `last` gets the
    stream's last chunk, and the highest offset before 50 ms of quiet is the end (an empty
    stream delivers nothing: it is given 500 ms for a first delivery)."""
    connection = connect(options)
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=int(options.get("prefetchcount", "2000")))
        last = None
        quiet = 0.0
        for method, properties, _ in channel.consume(
            queue, arguments={OFFSET_HEADER: "last"}, inactivity_timeout=0.05
        ):
            if method is None:
                quiet += 0.05
                if last is not None or quiet >= 0.5:
                    break
                continue
            offset = properties.headers[OFFSET_HEADER]
            last = offset if last is None else max(last, offset)
            channel.basic_ack(method.delivery_tag, multiple=True)
        return last
    finally:
        close_quietly(connection)


class OffsetRange(InputPartition):
    """Offsets `first` through `last` of the stream (both inclusive)."""

    def __init__(self, first: int, last: int) -> None:
        super().__init__((first, last))
        self.first = first
        self.last = last


class RabbitPyReader(DataSourceReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.options = options
        self.queue = options["queue"]

    def partitions(self) -> list[InputPartition]:
        start = self.options.get("startingoffsets", "first")
        first = 0 if start == "first" else int(start)
        end = self.options.get("endingoffsets", "latest")
        last = last_offset(self.options, self.queue) if end == "latest" else int(end) - 1
        if last is None or last < first:
            return []
        per = int(self.options.get("offsetsperpartition", "250000"))
        return [OffsetRange(lo, min(lo + per, last + 1) - 1) for lo in range(first, last + 1, per)]

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        if not isinstance(partition, OffsetRange):
            return  # an empty plan: Spark runs one task with no partition
        prefetch = int(self.options.get("prefetchcount", "2000"))
        ack_every = max(1, prefetch // 2)
        first, last = partition.first, partition.last
        connection = connect(self.options)
        try:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=prefetch)
            unacked = 0
            fromtimestamp = dt.datetime.fromtimestamp
            for method, p, body in channel.consume(
                self.queue, arguments={OFFSET_HEADER: first}, inactivity_timeout=30
            ):
                if method is None:
                    raise TimeoutError(f"{self.queue}: no delivery in 30 s before offset {last}")
                unacked += 1
                if unacked >= ack_every:
                    channel.basic_ack(method.delivery_tag, multiple=True)
                    unacked = 0
                headers = p.headers
                offset = headers.pop(OFFSET_HEADER)
                if offset < first:
                    continue  # the chunk holding `first` starts earlier
                if offset > last:
                    break  # a gap (a segment's first chunk) at the end of the range
                yield (
                    body,
                    method.routing_key,
                    method.exchange,
                    {k: str(v) for k, v in headers.items()} if headers else None,
                    p.content_type,
                    p.content_encoding,
                    p.message_id,
                    p.correlation_id,
                    p.reply_to,
                    p.expiration,
                    p.type,
                    p.user_id,
                    p.app_id,
                    None if p.timestamp is None else fromtimestamp(p.timestamp, UTC),
                    p.delivery_mode,
                    p.priority,
                    method.redelivered,
                    offset,
                )
                if offset == last:
                    break
        finally:
            close_quietly(connection)


@dataclass
class Published(WriterCommitMessage):
    messages: int


class RabbitPyWriter(DataSourceWriter):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        self.options = options
        self.body = schema.fieldNames().index("body")

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        import pika

        exchange = self.options.get("exchange", "")
        routing_key = self.options.get("routingkey", self.options.get("queue", ""))
        properties = pika.BasicProperties(delivery_mode=2)  # persistent
        connection = connect(self.options)
        published = 0
        try:
            channel = connection.channel()
            channel.confirm_delivery()  # basic_publish now waits for the broker's confirm
            publish, body = channel.basic_publish, self.body
            for row in iterator:
                publish(exchange, routing_key, bytes(row[body]), properties, mandatory=True)
                published += 1
        finally:
            connection.close()
        return Published(published)


class RabbitPyDataSource(DataSource):
    """`spark.read.format("rabbitmq_py")` / `df.write.format("rabbitmq_py")` (publishes
    the `body` column)."""

    @classmethod
    def name(cls) -> str:
        return "rabbitmq_py"

    def schema(self) -> str:
        return SCHEMA

    def reader(self, schema: StructType) -> DataSourceReader:
        return RabbitPyReader(lowered(self.options))

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        if overwrite:
            raise ValueError("rabbitmq_py: only append is supported")
        return RabbitPyWriter(lowered(self.options), schema)
