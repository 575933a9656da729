# spark-ds developer entry points. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
ROOT := $(abspath .)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
SERVICES := $(ROOT)/integration/services.sh
PYTEST_ARGS ?=

.PHONY: setup python wheels install demo test lint rust-test py-test services-up services-down bench bench-smoke matrix clean

## setup: Python env, wheels built and installed into it
setup: python wheels install

python:
	@bash integration/scripts/bootstrap-python.sh

wheels: python
	@bash integration/scripts/build-wheels.sh

install: python
	@$(VENV)/bin/pip install --quiet --force-reinstall --no-deps $(ROOT)/dist/spark_ds_*.whl

## demo: set up, start the embedded default services, run the main job
demo: setup
	@$(SERVICES) up
	@$(PY) integration/demo/main_job.py

## test: every gate CI runs (lint incl. stub checks of the installed wheels, Rust tests,
## services, end-to-end tests)
test: setup lint services-up rust-test py-test

lint: python
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	command -v cargo-machete >/dev/null || cargo install --locked cargo-machete
	cargo machete
	$(VENV)/bin/python integration/scripts/sync-shared.py --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	bash integration/scripts/stubtest.sh

## rust-test: unit tests, then the live tests (ignored by a plain `cargo test`) against the
## harness's services; a missing service fails them.
rust-test:
	cargo test --workspace -- --include-ignored

py-test:
	$(VENV)/bin/pytest integration/tests $(PYTEST_ARGS)

services-up:
	@$(SERVICES) up

services-down:
	@$(SERVICES) down

## bench: the benchmark suite (never part of `make test`): SYSTEM=all (default), cassandra,
## mongodb or rabbitmq; BENCH_ARGS e.g. `--rows 100000 --only ours,rust`.
SYSTEM ?= all
BENCH_ARGS ?=
bench: setup
	@bash integration/bench/run.sh $(SYSTEM) $(BENCH_ARGS)

bench-smoke: setup
	@bash integration/bench/run.sh $(SYSTEM) --smoke $(BENCH_ARGS)

## matrix: the conformance suite on the newest patch of every PySpark 4 line, classic, Spark
## Connect and the standalone cluster (never part of `make test`); rewrites
## integration/matrix/results.{md,json} and the README's support matrix.
## MATRIX_ARGS e.g. `--lines 4.0,4.3 --modes classic`.
MATRIX_ARGS ?=
matrix: wheels
	@$(PY) integration/matrix/run.py $(MATRIX_ARGS)

clean:
	rm -rf target dist
