"""New MongoDB documents streamed into a Cassandra table: the `mongodb` polling stream
source feeds the `cassandra` sink.

`SparkSession.active()` is the pipeline's session, which `spark-pipelines` made before it
imported this file (Spark 4.3 also puts it in the globals as `spark`; 4.1 does not).
Credentials are not in the options: each connector reads them from the environment
(`SPARK_DS_MONGODB_USERNAME` / `SPARK_DS_MONGODB_PASSWORD`,
`SPARK_DS_CASSANDRA_USERNAME` / `SPARK_DS_CASSANDRA_PASSWORD`) on the executors.
"""

from pyspark import pipelines as dp
from pyspark.sql import DataFrame, SparkSession

spark = SparkSession.active()


def conf(name: str) -> str:
    return spark.conf.get(f"spark_ds.example.{name}")


dp.create_sink(
    "cassandra_events",
    format="cassandra",
    options={
        "host": conf("cassandra.host"),
        "port": conf("cassandra.port"),
        "keyspace": conf("cassandra.keyspace"),
        "table": conf("cassandra.table"),
        # The first write creates the keyspace and the table, keyed by the documents' `seq`.
        "createTable": "true",
        "partitionKey": "seq",
        "keyspaceReplication": "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    },
)


@dp.append_flow(target="cassandra_events")
def new_events() -> DataFrame:
    # The collection is read in `seq` order; each run of the pipeline takes the documents
    # inserted since the last run's checkpoint, exactly once.
    return (
        spark.readStream.format("mongodb")
        .option("host", conf("mongodb.host"))
        .option("port", conf("mongodb.port"))
        .option("database", conf("mongodb.database"))
        .option("collection", conf("mongodb.collection"))
        .option("stream.poll.field", "seq")
        .schema("seq BIGINT, name STRING")
        .load()
    )
