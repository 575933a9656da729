"""Spark's pushed filter objects as the JSON the native planner reads.

Values are plain JSON where JSON can hold them exactly; timestamps, dates, decimals, bytes and
the floats JSON has no literal for (NaN, ±Infinity) are tagged so the native planner converts
them into the column's type without guessing, or leaves the filter to Spark.
A filter that cannot be encoded is left to Spark.

Spark splits `AND` into separate filters and never passes `OR` to a Python source; `NOT`
arrives around one comparison and is encoded as `{"op": "not", "column", "child"}`.
`c <=> v` is `c = v` for a non-null `v` and `c IS NULL` for a null one.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_EPOCH_DATE = dt.date(1970, 1, 1)

_OPS = {
    "EqualTo": "eq",
    "GreaterThan": "gt",
    "GreaterThanOrEqual": "ge",
    "LessThan": "lt",
    "LessThanOrEqual": "le",
    "In": "in",
    "IsNull": "is_null",
    "IsNotNull": "is_not_null",
    "StringStartsWith": "starts_with",
    "StringEndsWith": "ends_with",
    "StringContains": "contains",
}


class UnencodableError(ValueError):
    """The filter has a value or shape the native planner does not take."""


def _encode_float(value: float) -> Any:
    if math.isfinite(value):
        return value
    return {"$double": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}


def encode_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return _encode_float(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.astimezone()
        delta = aware - _EPOCH
        return {"$ts": (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds}
    if isinstance(value, dt.date):
        return {"$date": (value - _EPOCH_DATE).days}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"$bin": bytes(value).hex()}
    raise UnencodableError(type(value).__name__)


def encode_filter(flt: Any) -> dict[str, Any]:
    name = type(flt).__name__
    if name == "Not":
        child = encode_filter(flt.child)
        return {"op": "not", "column": child["column"], "child": child}
    op = _OPS.get(name)
    if name == "EqualNullSafe":
        op = "is_null" if flt.value is None else "eq"
    attribute: tuple[str, ...] = getattr(flt, "attribute", ())
    if op is None or len(attribute) != 1:
        raise UnencodableError(name)
    encoded: dict[str, Any] = {"op": op, "column": attribute[0]}
    if op == "in":
        encoded["values"] = [encode_value(v) for v in flt.value]
    elif op not in ("is_null", "is_not_null"):
        encoded["value"] = encode_value(flt.value)
    return encoded


def encode_filters(filters: list[Any]) -> tuple[str, list[int]]:
    """JSON of the encodable filters and, for each, its index in `filters`."""
    encoded: list[dict[str, Any]] = []
    positions: list[int] = []
    for index, flt in enumerate(filters):
        try:
            encoded.append(encode_filter(flt))
        except UnencodableError:
            continue
        positions.append(index)
    # Strict JSON: a bare NaN would make the native side reject the whole list.
    return json.dumps(encoded, allow_nan=False), positions
