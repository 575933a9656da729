"""Python glue shared by every spark-ds connector package.

Each wheel ships its own copy as ``<package>._shared`` so that installing one connector
brings everything it needs and uninstalling another cannot remove it. Modules here import
only the standard library at import time: Spark's static data-source lookup imports every
``pyspark_*`` package, and one that fails there breaks all Python data sources.
"""
