"""A stream of numbered rows appended into a Cassandra table through the `cassandra` sink.

`SparkSession.active()` is the pipeline's session, which `spark-pipelines` made before it
imported this file (Spark 4.3 also puts it in the globals as `spark`; 4.1 does not).
Credentials are not in the options: the connector reads them from the environment
(`SPARK_DS_CASSANDRA_USERNAME` / `SPARK_DS_CASSANDRA_PASSWORD`) on the executors.
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
        "host": conf("host"),
        "port": conf("port"),
        "keyspace": conf("keyspace"),
        "table": conf("table"),
        # The first write creates the keyspace and the table, keyed by the stream's `id`.
        "createTable": "true",
        "partitionKey": "id",
        "keyspaceReplication": "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    },
)


@dp.append_flow(target="cassandra_events")
def numbered_rows() -> DataFrame:
    # `rate-micro-batch` numbers its rows 0, 1, 2, ... and each run of the pipeline takes
    # one batch of them, continuing where the last run's checkpoint ended.
    return (
        spark.readStream.format("rate-micro-batch")
        .option("rowsPerBatch", conf("rowsPerBatch"))
        .load()
        .selectExpr("value AS id", "concat('event ', value) AS name")
    )
