"""Python glue shared by every spark-ds connector package.

Each wheel ships its own copy as ``<package>._shared`` so that installing one connector
brings everything it needs and uninstalling another cannot remove it. Edit only this
directory: ``integration/scripts/sync-shared.py`` writes the committed copies, and its
``--check`` (and ``integration/tests/test_packaging.py``) fails when one differs.

Modules here import only the standard library and PySpark at import time, never native
code: Spark's static data-source lookup imports every ``pyspark_*`` package, and one that
fails there breaks all Python data sources.
"""
