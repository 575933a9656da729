"""A pure-Python MongoDB data source on `pymongoarrow`: the fast Python path.

Reads with `pymongoarrow.api.find_arrow_all` (BSON decoded to Arrow in C, no Python object
per document) and yields the partition's Arrow batches; writes with an Arrow writer
handing each batch to `pymongoarrow.api.write`. One `MongoClient` per worker process,
reused across tasks. Reads are one partition (as `mongodb_py`); the schema is the user's.

pymongoarrow pins its own pyarrow (25.0.x), so this source runs from its own virtualenv
(`integration/bench/.venv-pymongoarrow`, PySpark 4.3).

Format `mongodb_arrow`; options: host, port, username, password, authSource (admin),
database, collection, batchRows (65536, rows per yielded batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mongodb_py import collection, lowered
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType


def _wire_type(t: Any) -> Any:
    """pymongoarrow's type for a Spark Arrow type: datetimes come as timestamp[ms]."""
    import pyarrow as pa

    if pa.types.is_timestamp(t):
        return pa.timestamp("ms")
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _wire_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(_wire_type(t.value_type))
    return t


class Whole(InputPartition):
    def __init__(self) -> None:
        super().__init__(0)


class MongoArrowReader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        self.options = options
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        return [Whole()]

    def read(self, partition: InputPartition) -> Iterator[Any]:
        from pymongoarrow.api import Schema, find_arrow_all

        target = to_arrow_schema(self.schema, timezone="UTC")
        wire = Schema({f.name: _wire_type(f.type) for f in target})
        table = find_arrow_all(collection(self.options), {}, schema=wire)
        # Spark wants its own Arrow types: timestamp[us, UTC], `element` list items.
        table = table.select(target.names).cast(target)
        yield from table.to_batches(max_chunksize=int(self.options.get("batchrows", "65536")))


@dataclass
class Written(WriterCommitMessage):
    rows: int


class MongoArrowWriter(DataSourceArrowWriter):
    def __init__(self, options: dict[str, str]) -> None:
        self.options = options

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        import pyarrow as pa
        from pymongoarrow.api import write

        coll = collection(self.options)
        rows = 0
        for batch in iterator:
            result = write(coll, pa.Table.from_batches([batch]))
            rows += int(result.raw_result["insertedCount"])
        return Written(rows)


class MongoArrowDataSource(DataSource):
    """`spark.read.format("mongodb_arrow").schema(...)` / `df.write.format("mongodb_arrow")`."""

    @classmethod
    def name(cls) -> str:
        return "mongodb_arrow"

    def schema(self) -> str:
        raise ValueError("mongodb_arrow: give the schema with .schema(...)")

    def reader(self, schema: StructType) -> DataSourceReader:
        return MongoArrowReader(lowered(self.options), schema)

    def writer(self, schema: StructType, overwrite: bool) -> MongoArrowWriter:
        if overwrite:
            raise ValueError("mongodb_arrow: only append is supported")
        return MongoArrowWriter(lowered(self.options))
