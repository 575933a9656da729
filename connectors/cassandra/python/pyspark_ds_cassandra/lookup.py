"""Key lookups against a Cassandra table from a DataFrame of keys (`joinWithCassandraTable`)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

NATIVE = "pyspark_ds_cassandra._native"


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
    native = importlib.import_module(NATIVE)
    from pyspark.sql.pandas.types import from_arrow_schema

    arrow_schema, _partition_key, _clustering_key = native.describe(merged)
    spark_schema = from_arrow_schema(arrow_schema)
    columns = [field.name for field in arrow_schema]

    def lookup_batches(batches: Iterator[Any]) -> Iterator[Any]:
        executor_native = importlib.import_module(NATIVE)
        for batch in batches:
            found, _queries, _rows = executor_native.lookup(merged, columns, batch)
            yield found

    return keys.mapInArrow(lookup_batches, spark_schema)
