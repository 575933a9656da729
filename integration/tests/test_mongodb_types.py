"""MongoDB documents read through Spark: the inferred schema and the values of every BSON
type the harness's server stores, schemaHints, and the parse modes with a user schema.

FerretDB cannot store Decimal128, JavaScript, MinKey/MaxKey or NaN: the Rust unit tests
of `infer.rs` and `to_arrow.rs` prove those conversions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mongodb_support import connector_options, unique

pytestmark = pytest.mark.services

DATABASE = "sdm_types_py"
OID = "65a1b2c3d4e5f60718293a4b"


@pytest.fixture
def utc(spark: Any) -> Any:
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return spark


def read(
    spark: Any, env: dict[str, Any], collection: str, schema: str | None = None, **extra: object
) -> Any:
    options = connector_options(env, database=DATABASE, collection=collection, **extra)
    reader = spark.read.format("mongodb").options(**options)
    return (reader.schema(schema) if schema else reader).load()


@pytest.fixture(scope="module")
def every_type(mongo: Any) -> Iterator[str]:
    """Two documents holding every type FerretDB stores, missing fields and a mixed field."""
    from bson import Binary, Int64, ObjectId, Regex, Timestamp

    name = unique("every")
    mongo[DATABASE][name].insert_many(
        [
            {
                "_id": 1,
                "dbl": 1.5,
                "s": "héllo",
                "doc": {"a": 1, "b": "c"},
                "arr": [1, 2],
                "bin": Binary(b"\x01\x02\x03", 0),
                "uuid": Binary(uuid.UUID(int=7).bytes, 4),
                "oid": ObjectId(OID),
                "b": True,
                "date": dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.timezone.utc),
                "nul": None,
                "re": Regex("^a", "i"),
                "i": 7,
                "l": Int64(8_000_000_000),
                "ts": Timestamp(1_700_000_000, 1),
                "mixed": 1,
            },
            {"_id": 2, "mixed": "two", "extra": 2.5, "doc": {"z": True}, "arr": [3.5]},
        ]
    )
    yield name
    mongo[DATABASE].drop_collection(name)


def test_every_stored_type_is_inferred_and_read(
    utc: Any, mongo_env: dict[str, Any], every_type: str
) -> None:
    df = read(utc, mongo_env, every_type)
    assert df.schema.simpleString() == (
        "struct<_id:int,dbl:double,s:string,doc:struct<a:int,b:string,z:boolean>,"
        "arr:array<double>,bin:binary,uuid:binary,oid:string,b:boolean,date:timestamp,"
        "nul:string,re:string,i:int,l:bigint,ts:timestamp,mixed:string,extra:double>"
    )
    rows = {r["_id"]: r.asDict(recursive=True) for r in df.collect()}
    one, two = rows[1], rows[2]
    assert one["dbl"] == 1.5 and one["s"] == "héllo" and one["b"] is True
    assert one["doc"] == {"a": 1, "b": "c", "z": None}
    assert one["arr"] == [1.0, 2.0] and two["arr"] == [3.5]
    assert bytes(one["bin"]) == b"\x01\x02\x03"
    assert bytes(one["uuid"]) == uuid.UUID(int=7).bytes
    assert one["oid"] == OID
    assert one["date"] == dt.datetime(2024, 1, 2, 3, 4, 5, 678000)
    assert one["ts"] == dt.datetime(2023, 11, 14, 22, 13, 20)
    assert one["nul"] is None and one["re"] == "/^a/i"
    assert one["i"] == 7 and one["l"] == 8_000_000_000
    assert (one["mixed"], two["mixed"]) == ("1", "two")
    # Fields a document lacks are null.
    assert one["extra"] is None and two["extra"] == 2.5
    assert two["doc"] == {"a": None, "b": None, "z": True}
    assert two["s"] is None and two["bin"] is None and two["date"] is None


def test_schema_hints_pin_types(spark: Any, mongo_env: dict[str, Any], every_type: str) -> None:
    df = read(
        spark, mongo_env, every_type, schemaHints="i BIGINT, mixed STRING, never DECIMAL(10,2)"
    )
    fields = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    assert (
        fields["i"] == "bigint" and fields["never"] == "decimal(10,2)" and fields["dbl"] == "double"
    )
    rows = {r["_id"]: r for r in df.collect()}
    assert rows[1]["i"] == 7 and rows[1]["never"] is None


def test_any_value_reads_as_string(utc: Any, mongo_env: dict[str, Any], every_type: str) -> None:
    schema = (
        "_id STRING, dbl STRING, doc STRING, arr STRING, oid STRING, b STRING, date STRING, "
        "i STRING"
    )
    rows = {r["_id"]: r.asDict() for r in read(utc, mongo_env, every_type, schema).collect()}
    assert rows["1"] == {
        "_id": "1",
        "dbl": "1.5",
        "doc": '{"a":1,"b":"c"}',
        "arr": "[1,2]",
        "oid": OID,
        "b": "true",
        "date": "2024-01-02T03:04:05.678Z",
        "i": "7",
    }


@pytest.fixture(scope="module")
def messy(mongo: Any) -> Iterator[str]:
    """Documents of which one does not fit `_id INT, n INT, s STRUCT<x: INT>`."""
    name = unique("messy")
    mongo[DATABASE][name].insert_many(
        [
            {"_id": 1, "n": 1, "s": {"x": 1}},
            {"_id": 2, "n": "not a number", "s": {"x": 2}},
            {"_id": 3, "n": 3.0, "s": {"x": 3}},
        ]
    )
    yield name
    mongo[DATABASE].drop_collection(name)


SCHEMA = "_id INT, n INT, s STRUCT<x: INT>"


def test_permissive_keeps_the_document_in_the_corrupt_record_column(
    spark: Any, mongo_env: dict[str, Any], messy: str
) -> None:
    df = read(
        spark,
        mongo_env,
        messy,
        SCHEMA + ", _corrupt STRING",
        mode="PERMISSIVE",
        columnNameOfCorruptRecord="_corrupt",
    )
    rows = {r["_id"]: r for r in df.collect()}
    assert [rows[i]["n"] for i in (1, 2, 3)] == [1, None, 3]
    assert rows[2]["s"]["x"] == 2
    assert rows[1]["_corrupt"] is None and rows[3]["_corrupt"] is None
    assert rows[2]["_corrupt"] == '{"_id":2,"n":"not a number","s":{"x":2}}'


def test_dropmalformed_skips_the_document(
    spark: Any, mongo_env: dict[str, Any], messy: str
) -> None:
    rows = read(spark, mongo_env, messy, SCHEMA, mode="DROPMALFORMED").collect()
    assert sorted(r["_id"] for r in rows) == [1, 3]


def test_failfast_names_the_document_and_field(
    spark: Any, mongo_env: dict[str, Any], messy: str
) -> None:
    with pytest.raises(Exception) as caught:
        read(spark, mongo_env, messy, SCHEMA, mode="FAILFAST").collect()
    message = str(caught.value)
    assert "DataError" in message, message
    assert "document _id 2" in message and "field `n`" in message, message
    assert "BSON string" in message and "INT" in message, message


def test_a_corrupt_record_column_must_be_a_string(
    spark: Any, mongo_env: dict[str, Any], messy: str
) -> None:
    df = read(
        spark, mongo_env, messy, SCHEMA + ", _corrupt INT", columnNameOfCorruptRecord="_corrupt"
    )
    with pytest.raises(Exception) as caught:
        df.collect()
    message = str(caught.value)
    assert "ConfigError" in message and "columnNameOfCorruptRecord" in message, message
    assert "must be STRING" in message, message


def test_a_missing_collection_is_named(spark: Any, mongo_env: dict[str, Any]) -> None:
    name = unique("missing")
    with pytest.raises(Exception) as caught:
        _ = read(spark, mongo_env, name).schema
    message = str(caught.value)
    assert f"{DATABASE}.{name}" in message and "does not exist" in message, message
