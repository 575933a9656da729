"""The one data set every contender reads and writes, defined once.

Rows are a pure function of `id`, so Spark (both versions), pyarrow and the Rust program
produce identical values. Only the standard library and PySpark are imported at module
level: this file is also loaded by the JVM anchor's PySpark 3.5 environment.
"""

from __future__ import annotations

from typing import Any

KEYSPACE = "spark_ds_bench"
COLUMNS = ["id", "i", "d", "s", "ts", "u", "tags"]
# CQL types; Spark sees: bigint, int, double, string, timestamp, string, array<string>.
CQL_COLUMNS = [
    ("id", "bigint"),
    ("i", "int"),
    ("d", "double"),
    ("s", "text"),
    ("ts", "timestamp"),
    ("u", "uuid"),
    ("tags", "list<text>"),
]
TS_BASE = 1_700_000_000  # seconds since the epoch of row 0
_MIX = 0x0123456789ABCDEF  # xor-ed into the id for the uuid's second half


def create_table_cql(table: str) -> str:
    cols = ", ".join(f"{name} {typ}" for name, typ in CQL_COLUMNS)
    return f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.{table} ({cols}, PRIMARY KEY (id))"


def uuid_text(i: int) -> str:
    h = f"{i:016x}{i ^ _MIX:016x}"
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _spark_scalars(idc: Any) -> list[Any]:
    """The columns both systems' data sets share (`i`, `d`, `s`, `ts`, `tags`), from `id`."""
    from pyspark.sql import functions as sf

    return [
        (idc % 100_000).cast("int").alias("i"),
        (idc * sf.lit(0.5)).alias("d"),
        sf.concat(sf.lit("name-"), idc.cast("string")).alias("s"),
        sf.timestamp_seconds(idc + sf.lit(TS_BASE)).alias("ts"),
        sf.array(
            sf.concat(sf.lit("t"), (idc % 10).cast("string")),
            sf.concat(sf.lit("g"), (idc % 7).cast("string")),
        ).alias("tags"),
    ]


def _arrow_scalars(ids: list[int]) -> dict[str, Any]:
    """The arrays both systems' data sets share, by column name, with Spark's Arrow types."""
    import pyarrow as pa

    return {
        "i": pa.array([i % 100_000 for i in ids], pa.int32()),
        "d": pa.array([i * 0.5 for i in ids], pa.float64()),
        "s": pa.array([f"name-{i}" for i in ids], pa.string()),
        "ts": pa.array([(i + TS_BASE) * 1_000_000 for i in ids], pa.timestamp("us", tz="UTC")),
        "tags": pa.array([[f"t{i % 10}", f"g{i % 7}"] for i in ids], pa.list_(pa.string())),
    }


def spark_frame(spark: Any, rows: int, partitions: int = 2) -> Any:
    """The generated DataFrame the write jobs save (spark.range based, no Python per row)."""
    from pyspark.sql import functions as sf

    idc = sf.col("id")
    mixed = sf.lpad(sf.hex(idc.bitwiseXOR(sf.lit(_MIX))), 16, "0")
    h = sf.concat(sf.lpad(sf.hex(idc), 16, "0"), mixed)
    u = sf.lower(
        sf.concat_ws(
            "-",
            sf.substring(h, 1, 8),
            sf.substring(h, 9, 4),
            sf.substring(h, 13, 4),
            sf.substring(h, 17, 4),
            sf.substring(h, 21, 12),
        )
    )
    i, d, s, ts, tags = _spark_scalars(idc)
    return spark.range(0, rows, 1, partitions).select(
        idc.alias("id"), i, d, s, ts, u.alias("u"), tags
    )


def arrow_batch(start: int, n: int) -> Any:
    """Rows [start, start+n) as a pyarrow RecordBatch with Spark's Arrow types."""
    import pyarrow as pa

    ids = list(range(start, start + n))
    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("i", pa.int32()),
            ("d", pa.float64()),
            ("s", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("u", pa.string()),
            ("tags", pa.list_(pa.string())),
        ]
    )
    arrays = {
        "id": pa.array(ids, pa.int64()),
        "u": pa.array([uuid_text(i) for i in ids], pa.string()),
        **_arrow_scalars(ids),
    }
    return pa.record_batch([arrays[name] for name in schema.names], schema=schema)


def arrow_bytes_per_row(sample: int = 50_000) -> float:
    """Arrow in-memory size of one row (buffers of a sample batch / rows): the MB/s basis."""
    batch = arrow_batch(1_000_000, sample)  # ids with realistic digit counts
    return batch.nbytes / sample


# --------------------------------------------------------------------------- MongoDB
# Documents with nested fields, a function of `_id`:
#   {_id: long, i: int, d: double, s: string, ts: date, tags: [string, string],
#    nested: {a: int, b: string, inner: {x: double}}}
# mongo-scan (integration/bench/mongo-scan) generates the same values.

MONGO_DATABASE = KEYSPACE
MONGO_DDL = (
    "_id bigint, i int, d double, s string, ts timestamp, tags array<string>, "
    "nested struct<a: int, b: string, inner: struct<x: double>>"
)


def mongo_document(i: int) -> dict[str, Any]:
    """Document `i` as pymongo writes it (used to check the other generators)."""
    import datetime as dt

    return {
        "_id": i,
        "i": i % 100_000,
        "d": i * 0.5,
        "s": f"name-{i}",
        "ts": dt.datetime.fromtimestamp(i + TS_BASE, dt.timezone.utc),
        "tags": [f"t{i % 10}", f"g{i % 7}"],
        "nested": {"a": i % 1000, "b": f"b{i % 13}", "inner": {"x": i * 0.25}},
    }


def mongo_spark_frame(spark: Any, rows: int, partitions: int = 2) -> Any:
    """The generated DataFrame the MongoDB write jobs save (no Python per row)."""
    from pyspark.sql import functions as sf

    idc = sf.col("id")
    return spark.range(0, rows, 1, partitions).select(
        idc.alias("_id"),
        *_spark_scalars(idc),
        sf.struct(
            (idc % 1000).cast("int").alias("a"),
            sf.concat(sf.lit("b"), (idc % 13).cast("string")).alias("b"),
            sf.struct((idc * sf.lit(0.25)).alias("x")).alias("inner"),
        ).alias("nested"),
    )


def mongo_arrow_schema() -> Any:
    """Spark's Arrow types for MONGO_DDL (what an Arrow reader must yield)."""
    import pyarrow as pa

    inner = pa.struct([("x", pa.float64())])
    nested = pa.struct([("a", pa.int32()), ("b", pa.string()), ("inner", inner)])
    return pa.schema(
        [
            ("_id", pa.int64()),
            ("i", pa.int32()),
            ("d", pa.float64()),
            ("s", pa.string()),
            ("ts", pa.timestamp("us", tz="UTC")),
            ("tags", pa.list_(pa.string())),
            ("nested", nested),
        ]
    )


def mongo_arrow_batch(start: int, n: int) -> Any:
    """Documents [start, start+n) as a pyarrow RecordBatch with Spark's Arrow types."""
    import pyarrow as pa

    ids = list(range(start, start + n))
    schema = mongo_arrow_schema()
    inner = pa.StructArray.from_arrays([pa.array([i * 0.25 for i in ids], pa.float64())], ["x"])
    nested = pa.StructArray.from_arrays(
        [
            pa.array([i % 1000 for i in ids], pa.int32()),
            pa.array([f"b{i % 13}" for i in ids], pa.string()),
            inner,
        ],
        ["a", "b", "inner"],
    )
    arrays = {"_id": pa.array(ids, pa.int64()), **_arrow_scalars(ids), "nested": nested}
    return pa.record_batch([arrays[name] for name in schema.names], schema=schema)


def mongo_arrow_bytes_per_row(sample: int = 50_000) -> float:
    """Arrow in-memory size of one document's row: the MongoDB MB/s basis."""
    batch = mongo_arrow_batch(1_000_000, sample)
    return batch.nbytes / sample


# --------------------------------------------------------------------------- RabbitMQ
# Messages: message `i`'s body is `i` in decimal left-padded with `x` to the body size
# (100 B or 10 KB); nothing else is set but persistent delivery. Every queue is a stream
# queue named RABBIT_PREFIX + the bench's table name. rabbit-scan
# (integration/bench/rabbit-scan) generates the same bodies.

RABBIT_PREFIX = "spark_ds_bench."
RABBIT_BODY_SIZES = (100, 10_240)
# Every column of a read (spark-ds-rabbitmq's message schema; the pure-Python source
# offers the same).
RABBIT_DDL = (
    "body binary, routing_key string, exchange string, headers map<string,string>, "
    "content_type string, content_encoding string, message_id string, "
    "correlation_id string, reply_to string, expiration string, type string, "
    "user_id string, app_id string, timestamp timestamp, delivery_mode int, priority int, "
    "redelivered boolean, offset bigint"
)


def rabbit_queue(table: str) -> str:
    return RABBIT_PREFIX + table


def rabbit_body(i: int, body_bytes: int) -> bytes:
    """Message `i`'s body (used to check the other generators)."""
    return str(i).rjust(body_bytes, "x").encode()


def rabbit_spark_frame(spark: Any, rows: int, body_bytes: int, partitions: int = 2) -> Any:
    """The generated DataFrame the RabbitMQ write jobs publish: one binary `body` column
    (no Python per row)."""
    from pyspark.sql import functions as sf

    body = sf.lpad(sf.col("id").cast("string"), body_bytes, "x").cast("binary")
    return spark.range(0, rows, 1, partitions).select(body.alias("body"))


def rabbit_arrow_schema() -> Any:
    """Spark's Arrow types for RABBIT_DDL (what an Arrow reader must yield)."""
    import pyarrow as pa

    strings = [
        "content_type",
        "content_encoding",
        "message_id",
        "correlation_id",
        "reply_to",
        "expiration",
        "type",
        "user_id",
        "app_id",
    ]
    return pa.schema(
        [
            ("body", pa.binary()),
            ("routing_key", pa.string()),
            ("exchange", pa.string()),
            ("headers", pa.map_(pa.string(), pa.string())),
            *[(name, pa.string()) for name in strings],
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("delivery_mode", pa.int32()),
            ("priority", pa.int32()),
            ("redelivered", pa.bool_()),
            ("offset", pa.int64()),
        ]
    )


def rabbit_arrow_batch(start: int, n: int, body_bytes: int, queue: str = "src") -> Any:
    """Messages [start, start+n) as a read of the stream yields them (offset = number)."""
    import pyarrow as pa

    schema = rabbit_arrow_schema()
    ids = list(range(start, start + n))
    arrays = {
        "body": pa.array([rabbit_body(i, body_bytes) for i in ids], pa.binary()),
        "routing_key": pa.array([rabbit_queue(queue)] * n, pa.string()),
        "exchange": pa.array([""] * n, pa.string()),
        "delivery_mode": pa.array([2] * n, pa.int32()),
        "redelivered": pa.array([False] * n, pa.bool_()),
        "offset": pa.array(ids, pa.int64()),
    }
    columns = [arrays.get(f.name, pa.nulls(n, f.type)) for f in schema]
    return pa.record_batch(columns, schema=schema)
