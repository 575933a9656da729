"""The connectors the conformance suite runs, each declared by a fixture object.

A connector joins the suite by subclassing :class:`ConnectorUnderTest` — its format name,
the harness services it needs, the capabilities it offers, how to make a fresh target
(table, collection, queue) and how to read a target back with the system's own client —
and adding an instance to :data:`CONNECTORS`. Tests of a capability it does not declare
are skipped with that reason; nothing else ever skips.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import mongodb_support
import rabbitmq_support
from cassandra_support import connector_options, cql_session, create_keyspace, unique

from .standard import COLUMNS, canonical, standard_frame

CAPABILITIES = frozenset(
    {
        "batch_read",
        "batch_write",
        "stream_write",
        "stream_read",
        "pushdown",
        "key_lookup",
        "message_read",
        "message_write",
        "acked_read",
    }
)
"""``batch_*``/``stream_*``: keyed rows that round-trip through a table or collection.
``message_read``/``message_write``: rows published as messages (JSON bodies) and read back
from a queue or topic, with no keys and no save modes besides append.
``acked_read``: a source that cannot replay (a classic queue, an MQTT subscription), read by
a consumer the driver holds and acknowledged after each commit."""


class ConnectorUnderTest:
    """What the suite needs to know about one connector. Subclasses fill in every method."""

    name: ClassVar[str]
    """The format name given to ``spark.read.format``."""
    services: ClassVar[tuple[str, ...]]
    """Harness services the connector's system needs (``services_env`` brings them up)."""
    capabilities: ClassVar[frozenset[str]]
    """A subset of :data:`CAPABILITIES`."""
    keyed: ClassVar[bool] = True
    """Writes upsert by the key ``id`` (append replaces a row with the same key)."""
    overwrite_options: ClassVar[dict[str, str]] = {}
    """What ``mode("overwrite")`` needs besides the target, e.g. a confirmation option."""
    save_mode_option: ClassVar[str] = "saveMode"
    """The option that brings ``errorIfExists`` and ``ignore`` to Python data sources."""
    misspelled_option: ClassVar[tuple[str, str]]
    """A misspelled option name and the option the error must suggest."""
    bad_values: ClassVar[list[tuple[str, str, list[str]]]]
    """(option, invalid value, words the error must list as expected values)."""
    bad_frames: ClassVar[dict[str, tuple[str, list[tuple[Any, ...]], str]]] = {
        # A column the target lacks (`nme` for `name`), and a key of the wrong type.
        "unknown_column": ("id INT, nme STRING", [(7, "x"), (8, "y")], "nme"),
        "string_key": ("id STRING, name STRING", [("seven", "x"), ("eight", "y")], "id"),
    }
    """Simple-shaped writes that cannot succeed: (schema, rows, the column the error names)."""
    unstorable: ClassVar[dict[str, str]] = {}
    """Standard columns the system's server cannot store, and why: left out of its rows."""
    creates_target_on_write: ClassVar[bool] = False
    """A write to a target that does not exist creates it (MongoDB collections)."""
    non_finite_floats: ClassVar[str | None] = None
    """Why the system's server cannot store NaN and ±Infinity, if it cannot."""
    pushdown_prunes_partitions: ClassVar[bool] = True
    """A pushed key filter plans fewer partitions (Cassandra's token ranges); otherwise the
    plan keeps its ranges and the server returns fewer rows (MongoDB's `$match`)."""
    schemaless: ClassVar[bool] = False
    """The system keeps no column types (a stored DATE reads back as a timestamp, a MAP as
    a struct): reads of the standard rows are given their schema."""

    def columns(self) -> list[str]:
        """The standard columns this connector round-trips, key first."""
        return [c for c in COLUMNS if c not in self.unstorable]

    def standard(self, spark: Any, start: int = 0, end: int = 60, tag: str = "") -> Any:
        """:func:`standard.standard_frame` without the columns the server cannot store."""
        return standard_frame(spark, start, end, tag).select(*self.columns())

    def reader(self, spark: Any, schema: Any = None) -> Any:
        """``spark.read`` for this format, given ``schema`` when the system is schemaless."""
        read = spark.read.format(self.name)
        if self.schemaless:
            read = read.schema(schema if schema is not None else self.standard(spark, 0, 1).schema)
        return read

    def open(self, env: dict[str, Any]) -> None:
        """Connects the system's own client and makes a namespace for this run."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def new_target(self, schema: str) -> str:
        """A fresh, empty target for rows of ``schema`` ("standard" or "simple").

        Systems that need a schema up front create it here; others just pick a name.
        """
        raise NotImplementedError

    def options(self, target: str, **extra: object) -> dict[str, str]:
        """The format's options to read or write ``target``, plus ``extra``."""
        raise NotImplementedError

    def create_options(self) -> dict[str, str]:
        """Options that ask the connector to create a missing target keyed by ``id``."""
        raise NotImplementedError

    def partition_options(self, partitions: int) -> dict[str, str]:
        """Options that make a read plan ``partitions`` partitions (1: a single one)."""
        raise NotImplementedError

    def insert(self, target: str, rows: list[dict[str, Any]]) -> None:
        """Writes ``rows`` (simple rows: ``id``, ``name``) with the system's own client."""
        raise NotImplementedError

    def rows(self, target: str, columns: list[str]) -> list[dict[str, Any]]:
        """Every row of ``target`` read with the system's own client, in canonical form
        (see :func:`standard.canonical`), sorted by ``id``."""
        raise NotImplementedError

    @contextmanager
    def login_with_password(self, password: str) -> Iterator[dict[str, str]]:
        """A login whose password is ``password``: yields the options that use it."""
        raise NotImplementedError
        yield {}

    def lookup(self, keys: Any, options: dict[str, str]) -> Any:
        """``key_lookup``: the rows of the target whose key matches a row of ``keys``."""
        raise NotImplementedError

    def stream_read(self, spark: Any, options: dict[str, str]) -> Any:
        """``stream_read``: a streaming DataFrame of the target's rows in the standard shape."""
        raise NotImplementedError

    def message_stream(self, spark: Any, options: dict[str, str], schema: str) -> Any:
        """``message_read``: a streaming DataFrame of the messages' bodies parsed as ``schema``."""
        raise NotImplementedError

    def new_acked_target(self, schema: str) -> str:
        """``acked_read``: a fresh source that cannot replay; ``options`` reads and writes it."""
        raise NotImplementedError

    def waiting(self, target: str) -> int:
        """``acked_read``: messages of ``target`` not yet acknowledged by any reader."""
        raise NotImplementedError


class Cassandra(ConnectorUnderTest):
    name = "cassandra"
    services = ("cassandra",)
    capabilities = frozenset(
        {"batch_read", "batch_write", "stream_write", "pushdown", "key_lookup"}
    )
    overwrite_options: ClassVar[dict[str, str]] = {"confirmTruncate": "true"}
    misspelled_option = ("keyspce", "keyspace")
    bad_values: ClassVar[list[tuple[str, str, list[str]]]] = [
        ("consistencyLevel", "MOSTLY", ["LOCAL_ONE", "QUORUM", "ALL"]),
        ("saveMode", "sometimes", ["append", "errorIfExists", "ignore"]),
    ]

    DDL: ClassVar[dict[str, str]] = {
        "standard": (
            "id int PRIMARY KEY, name text, big bigint, score double, flag boolean, day date, "
            "at timestamp, amount decimal, raw blob, tags list<int>, attrs map<text, bigint>, "
            "point frozen<point>"
        ),
        "simple": "id int PRIMARY KEY, name text",
    }

    def open(self, env: dict[str, Any]) -> None:
        self.env = env
        self.cql = cql_session(env)
        self.keyspace = unique("conformance")
        create_keyspace(self.cql, self.keyspace)
        self.cql.execute(f"CREATE TYPE {self.keyspace}.point (x int, label text)")

    def close(self) -> None:
        self.cql.cluster.shutdown()

    def new_target(self, schema: str) -> str:
        table = unique(schema)
        self.cql.execute(f"CREATE TABLE {self.keyspace}.{table} ({self.DDL[schema]})")
        return table

    def options(self, target: str, **extra: object) -> dict[str, str]:
        return connector_options(self.env, keyspace=self.keyspace, table=target, **extra)

    def create_options(self) -> dict[str, str]:
        return {"createTable": "true", "partitionKey": "id"}

    def partition_options(self, partitions: int) -> dict[str, str]:
        return {"splitCount": str(partitions)}

    def insert(self, target: str, rows: list[dict[str, Any]]) -> None:
        from cassandra.concurrent import execute_concurrent_with_args

        statement = self.cql.prepare(
            f"INSERT INTO {self.keyspace}.{target} (id, name) VALUES (?, ?)"
        )
        args = [(r["id"], r["name"]) for r in rows]
        for ok, result in execute_concurrent_with_args(self.cql, statement, args):
            assert ok, result

    def rows(self, target: str, columns: list[str]) -> list[dict[str, Any]]:
        result = self.cql.execute(f"SELECT {', '.join(columns)} FROM {self.keyspace}.{target}")
        return sorted(
            ({c: _from_driver(getattr(row, c)) for c in columns} for row in result),
            key=lambda r: r["id"],
        )

    @contextmanager
    def login_with_password(self, password: str) -> Iterator[dict[str, str]]:
        role = unique("conformance_role")
        escaped = password.replace("'", "''")
        self.cql.execute(f"CREATE ROLE {role} WITH PASSWORD = '{escaped}' AND LOGIN = true")
        try:
            self.cql.execute(f"GRANT ALL PERMISSIONS ON KEYSPACE {self.keyspace} TO {role}")
        except Exception as error:  # AllowAllAuthorizer: every role may do everything anyway
            if "AllowAllAuthorizer" not in str(error):
                raise
        try:
            yield {"username": role, "password": password}
        finally:
            self.cql.execute(f"DROP ROLE {role}")

    def lookup(self, keys: Any, options: dict[str, str]) -> Any:
        from pyspark_ds_cassandra import join_with_cassandra_table

        return join_with_cassandra_table(keys, options)


def _from_driver(value: Any) -> Any:
    """cassandra-driver values in canonical form (the driver's timestamps are naive UTC)."""
    from cassandra.util import Date

    if isinstance(value, Date):
        return value.date()
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    if hasattr(value, "_fields"):  # a user-defined type or tuple
        return {f: _from_driver(getattr(value, f)) for f in value._fields}
    if isinstance(value, list | tuple):
        return [_from_driver(v) for v in value]
    if hasattr(value, "items"):
        return {_from_driver(k): _from_driver(v) for k, v in value.items()}
    return canonical(value)


class MongoDB(ConnectorUnderTest):
    name = "mongodb"
    services = ("mongodb",)
    capabilities = frozenset(
        {"batch_read", "batch_write", "stream_write", "stream_read", "pushdown"}
    )
    overwrite_options: ClassVar[dict[str, str]] = {"overwriteStrategy": "deleteAll"}
    pushdown_prunes_partitions = False
    non_finite_floats = "FerretDB (the harness's server) stores no NaN or ±Infinity"
    misspelled_option = ("colection", "collection")
    bad_values: ClassVar[list[tuple[str, str, list[str]]]] = [
        ("partitioner", "random", ["single", "paginateBySize", "paginateIntoPartitions"]),
        ("saveMode", "sometimes", ["append", "errorIfExists", "ignore"]),
    ]
    # Schemaless: unknown fields and other value types are legal documents. What cannot be
    # written is a key field the DataFrame lacks, and a value the server cannot store.
    bad_frames: ClassVar[dict[str, tuple[str, list[tuple[Any, ...]], str]]] = {
        "missing_key": ("nid INT, name STRING", [(7, "x"), (8, "y")], "id"),
        "decimal_on_ferretdb": (
            "id INT, name STRING, price DECIMAL(10,2)",
            [(7, "x", None), (8, "y", None)],
            "price",
        ),
    }
    # FerretDB (the harness's server) closes the connection on any Decimal128.
    unstorable: ClassVar[dict[str, str]] = {"amount": "FerretDB stores no Decimal128"}
    schemaless = True
    creates_target_on_write = True

    def open(self, env: dict[str, Any]) -> None:
        self.env = env
        self.client = mongodb_support.mongo_client(env)
        self.database = mongodb_support.unique("conformance")

    def close(self) -> None:
        self.client.drop_database(self.database)
        self.client.close()

    def new_target(self, schema: str) -> str:
        # Collections need no schema, and the first write creates them.
        return mongodb_support.unique(schema)

    def options(self, target: str, **extra: object) -> dict[str, str]:
        # Rows are keyed by the field `id` (the documents' `_id` is the server's ObjectId).
        return mongodb_support.connector_options(
            self.env, database=self.database, collection=target, idFieldList="id", **extra
        )

    def create_options(self) -> dict[str, str]:
        return {}

    def partition_options(self, partitions: int) -> dict[str, str]:
        if partitions == 1:
            return {"partitioner": "single"}
        return {
            "partitioner": "paginateIntoPartitions",
            "partitioner.options.max.number.of.partitions": str(partitions),
        }

    def insert(self, target: str, rows: list[dict[str, Any]]) -> None:
        self.client[self.database][target].insert_many([dict(r) for r in rows])

    def rows(self, target: str, columns: list[str]) -> list[dict[str, Any]]:
        found = self.client[self.database][target].find({}, {c: 1 for c in columns})
        return sorted(
            ({c: _from_bson(c, doc.get(c)) for c in columns} for doc in found),
            key=lambda r: r["id"],
        )

    def stream_read(self, spark: Any, options: dict[str, str]) -> Any:
        # Polls by `_id`: the server's ObjectIds of upserted documents grow with time.
        schema = self.standard(spark, 0, 1).schema
        return spark.readStream.format(self.name).schema(schema).options(**options).load()

    @contextmanager
    def login_with_password(self, password: str) -> Iterator[dict[str, str]]:
        user = mongodb_support.unique("conformance_user")
        # FerretDB takes only empty roles (and lets such a user do everything).
        self.client.admin.command("createUser", user, pwd=password, roles=[])
        try:
            yield {"username": user, "password": password}
        finally:
            self.client.admin.command("dropUser", user)


def _from_bson(column: str, value: Any) -> Any:
    """pymongo values in canonical form: BSON dates are naive UTC datetimes, and the
    standard table's DATE column is stored as its midnight UTC."""
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=dt.timezone.utc)
        return value.date() if column == "day" else value
    return canonical(value)


class RabbitMQ(ConnectorUnderTest):
    name = "rabbitmq"
    services = ("rabbitmq",)
    capabilities = frozenset({"message_read", "message_write", "acked_read"})
    keyed = False
    misspelled_option = ("queu", "queue")
    bad_values: ClassVar[list[tuple[str, str, list[str]]]] = [
        ("startingOffsets", "sometimes", ["first", "last", "next"]),
        ("bodyFormat", "xml", ["binary", "json"]),
    ]
    # Rows travel as JSON bodies (the row without property columns is the body).
    schemaless = True

    def open(self, env: dict[str, Any]) -> None:
        self.env = env
        self.connection = rabbitmq_support.pika_connection(env)
        self.channel = self.connection.channel()
        self.classic_queues: set[str] = set()

    def close(self) -> None:
        self.connection.close()

    def new_target(self, schema: str) -> str:
        return rabbitmq_support.declare_stream(self.channel, rabbitmq_support.unique(schema))

    def options(self, target: str, **extra: object) -> dict[str, str]:
        if target in self.classic_queues:
            extra = {"queueType": "classic", **extra}
        return rabbitmq_support.connector_options(self.env, queue=target, **extra)

    def new_acked_target(self, schema: str) -> str:
        name = rabbitmq_support.unique(schema)
        self.channel.queue_declare(name, durable=True, arguments={"x-queue-type": "classic"})
        self.classic_queues.add(name)
        return name

    def waiting(self, target: str) -> int:
        return rabbitmq_support.unacknowledged(target)

    def reader(self, spark: Any, schema: Any = None) -> Any:
        # Bodies parsed as JSON into the rows' schema; plain reads see whole messages.
        return super().reader(spark, schema).option("bodyFormat", "json")

    def message_stream(self, spark: Any, options: dict[str, str], schema: str) -> Any:
        read = spark.readStream.format(self.name).options(**options)
        return read.option("bodyFormat", "json").schema(schema).load()

    @contextmanager
    def login_with_password(self, password: str) -> Iterator[dict[str, str]]:
        user = rabbitmq_support.unique("conformance_user")
        rabbitmq_support.rabbitmqctl("add_user", user, password)
        try:
            rabbitmq_support.rabbitmqctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
            yield {"username": user, "password": password}
        finally:
            rabbitmq_support.rabbitmqctl("delete_user", user)


CONNECTORS: list[ConnectorUnderTest] = [Cassandra(), MongoDB(), RabbitMQ()]
