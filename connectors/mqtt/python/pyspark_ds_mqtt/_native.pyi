"""Type stubs of the native extension module (checked by `mypy.stubtest` in `make lint`)."""

from collections.abc import Iterator
from typing import final

import pyarrow as pa

__all__ = ["BatchStream", "BatchWriter", "__version__", "_debug_panic", "set_log_level"]
__version__: str

@final
class BatchStream(Iterator[pa.RecordBatch]):
    """Arrow batches of one read partition, built in Rust."""

    def __iter__(self) -> BatchStream: ...
    def __next__(self) -> pa.RecordBatch: ...
    def close(self) -> None: ...

@final
class BatchWriter:
    """One write task: `write(batch)` for each batch, then `finish()`."""

    def write(self, batch: pa.RecordBatch) -> None: ...
    def finish(self) -> dict[str, int]: ...
    def abort(self) -> None: ...

def set_log_level(level: str) -> None:
    """Most verbose Rust log level forwarded to Python: off, error, warn, info, debug, trace."""

def _debug_panic(message: str) -> None:
    """Panics in native code on purpose (tests prove panics surface as InternalError)."""
