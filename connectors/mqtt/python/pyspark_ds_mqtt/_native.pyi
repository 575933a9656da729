"""Type stubs of the native extension module."""

__version__: str

def set_log_level(level: str) -> None:
    """Most verbose Rust log level forwarded to Python: off, error, warn, info, debug, trace."""

def _debug_panic(message: str) -> None:
    """Panics in native code on purpose (tests prove panics surface as InternalError)."""
