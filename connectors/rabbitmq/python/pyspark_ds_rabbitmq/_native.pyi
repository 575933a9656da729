"""Type stubs of `pyspark_ds_rabbitmq._native` (checked by `mypy.stubtest` in `make lint`)."""

from collections.abc import Iterator
from typing import final

import pyarrow as pa

__all__ = [
    "BatchStream",
    "BatchWriter",
    "__version__",
    "_debug_panic",
    "check_read_schema",
    "describe",
    "open_reader",
    "open_writer",
    "options_table",
    "plan_partitions",
    "prepare_write",
    "python_settings",
    "set_log_level",
    "stream_initial_offset",
    "stream_latest_offset",
    "stream_partitions",
    "validate_options",
]
__version__: str

@final
class BatchStream(Iterator[pa.RecordBatch]):
    def __iter__(self) -> BatchStream: ...
    def __next__(self) -> pa.RecordBatch: ...
    def close(self) -> None: ...

@final
class BatchWriter:
    def write(self, batch: pa.RecordBatch) -> None: ...
    def finish(self) -> dict[str, int]: ...
    def abort(self) -> None: ...

def set_log_level(level: str) -> None: ...
def _debug_panic(message: str) -> None: ...
def options_table() -> str: ...
def validate_options(options: dict[str, str]) -> None: ...
def python_settings(options: dict[str, str]) -> dict[str, bool | str | int | None]: ...
def describe(options: dict[str, str]) -> tuple[pa.Schema, list[str], list[str]]: ...
def check_read_schema(options: dict[str, str], schema: pa.Schema) -> None: ...
def plan_partitions(
    options: dict[str, str], columns: list[str], pushdown_state: str | None = None
) -> list[str]: ...
def open_reader(
    options: dict[str, str],
    columns: list[str],
    partition: str,
    pushdown_state: str | None = None,
    schema: pa.Schema | None = None,
) -> BatchStream: ...
def prepare_write(options: dict[str, str], schema: pa.Schema, overwrite: bool) -> bool: ...
def open_writer(
    options: dict[str, str], schema: pa.Schema, stream_task: dict[str, str] | None = None
) -> BatchWriter: ...
def stream_initial_offset(options: dict[str, str]) -> str: ...
def stream_latest_offset(
    options: dict[str, str],
    start: str | None = None,
    max_rows: int | None = None,
    cap: str | None = None,
) -> str: ...
def stream_partitions(options: dict[str, str], start: str, end: str) -> list[str]: ...
