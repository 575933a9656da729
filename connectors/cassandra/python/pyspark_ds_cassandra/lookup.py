"""Key lookups against a Cassandra table from a DataFrame of keys (`joinWithCassandraTable`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._shared.base import describe, spark_schema
from .datasource import CONNECTOR

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def join_with_cassandra_table(
    keys: DataFrame,
    options: Mapping[str, str] | None = None,
    **more_options: str,
) -> DataFrame:
    """Rows of a Cassandra table whose primary key matches a row of `keys`.

    `keys` has columns named like the table's partition-key columns (and optionally leading
    clustering columns). Each executor runs the per-key queries concurrently in Rust, so
    only the requested partitions are read. Options are those of the `cassandra` format
    (`keyspace`, `table`, `host`, ...). Inner-join semantics: keys with no row are dropped.
    """
    merged = {str(k).lower(): str(v) for k, v in {**dict(options or {}), **more_options}.items()}
    arrow_schema = describe(CONNECTOR.load(), merged).arrow_schema
    columns = [field.name for field in arrow_schema]
    connector = CONNECTOR

    def lookup_batches(batches: Iterator[Any]) -> Iterator[Any]:
        executor_native = connector.load()
        for batch in batches:
            found, _queries, _rows = executor_native.lookup(merged, columns, batch)
            yield found

    return keys.mapInArrow(lookup_batches, spark_schema(arrow_schema))
