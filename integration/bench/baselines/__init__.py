"""Baseline data sources the benchmark compares spark-ds against."""
