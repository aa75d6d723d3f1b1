# The two commands a new user needs: `make demo` and `make test`.
# Both create .venv from pyproject.toml on first use; nothing else is assumed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Paths (defaults live in dagster_project/settings.py; these only make them visible).
export SMS_DATA_DIR ?= $(CURDIR)/data
# DAGSTER_STORAGE=postgres keeps Dagster's runs, event logs and schedules in PostgreSQL
# (dagster.postgres.yaml; the server from DAGSTER_POSTGRES_*, see docs/configuration.md).
# Its instance has a home of its own, so switching back and forth never finds the other
# storage's dagster.yaml in place (make copies only a newer file).
DAGSTER_STORAGE ?= sqlite
ifeq ($(DAGSTER_STORAGE),postgres)
export DAGSTER_HOME ?= $(SMS_DATA_DIR)/dagster_home_postgres
INSTANCE_YAML := dagster.postgres.yaml
else
export DAGSTER_HOME ?= $(SMS_DATA_DIR)/dagster_home
INSTANCE_YAML := dagster.yaml
endif
# No telemetry from Dagster, dbt or Great Expectations.
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export GX_ANALYTICS_ENABLED := False

DEMO_CUSTOMERS ?= 5000
DEMO_DAYS      ?= 400
DEMO_SEED      ?= 42
# Extra purchase probability for recipients of a delivered message (the holdout gets none):
# one number, or campaign=value pairs, e.g. DEMO_UPLIFT=winback-lapsed=0.3,0.1
DEMO_UPLIFT    ?= 0.15

.PHONY: install demo demo-postgres test test-fast dev bench docs docs-serve lint clean help kannel chromium postgres java preview webhooks

help:
	@echo "make demo   generate demo data and run the whole pipeline on the embedded DuckDB"
	@echo "make demo-postgres  the same, with the send ledger in a throwaway PostgreSQL"
	@echo "make test   run the test suite"
	@echo "make test-fast  the unit tests only (tests/unit), under a minute"
	@echo "make dev    open the Dagster UI on http://127.0.0.1:3000"
	@echo "            (DAGSTER_STORAGE=postgres: the instance in PostgreSQL, DAGSTER_POSTGRES_*)"
	@echo "make bench  benchmarks at sizes S, M, L (see bench/README.md)"
	@echo "make docs   dbt docs (catalog of every model and column) into dbt/target"
	@echo "make kannel install Debian's kannel + kannel-extras (the gateway tests need them)"
	@echo "make postgres install Debian's postgresql (the operational store's tests start one)"
	@echo "make chromium install Debian's chromium (the report's browser test opens it headless)"
	@echo "make java   install Debian's OpenJDK 17 (Spark, for the spark target's tests and bench)"
	@echo "make preview CAMPAIGN=winback-lapsed   a campaign's funnel and sample messages, nothing sent"
	@echo "make webhooks  the webhook receiver (delivery reports, replies, clicks) on http://127.0.0.1:8088"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(DAGSTER_HOME)/dagster.yaml: $(INSTANCE_YAML)
	mkdir -p $(DAGSTER_HOME)
	cp $(INSTANCE_YAML) $@

# A few lines on the terminal; Dagster's and dbt's logs go to data/logs/ (path printed at
# the end). `make demo DEMO_ARGS=--verbose` shows them instead. The demo is not part of the
# installed package: `python -m demo` runs it from the repository root (see demo/__main__.py).
demo: install $(DAGSTER_HOME)/dagster.yaml
	$(PY) -m demo generate --customers $(DEMO_CUSTOMERS) --days $(DEMO_DAYS) --seed $(DEMO_SEED)
	@rm -rf $(SMS_DATA_DIR)/warehouse.duckdb $(SMS_DATA_DIR)/warehouse.duckdb.wal \
	  $(SMS_DATA_DIR)/sandbox_gateway $(SMS_DATA_DIR)/webhooks
	$(PY) -m demo run --uplift $(DEMO_UPLIFT) $(DEMO_ARGS)

# The same loop with the operational state (send ledger, journey state, links) in a
# throwaway PostgreSQL server (or the one SMS_POSTGRES_DSN names); the warehouse reads
# its synced copy. Dagster's own instance stays as configured (see README).
demo-postgres: postgres
	$(MAKE) demo DEMO_ARGS="--postgres $(DEMO_ARGS)"

# The gateway tests start a real Kannel (bearerbox, smsbox, fakesmsc on loopback).
# Installed from Debian only when bearerbox is missing; sudo only when not root.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

kannel:
	@{ command -v bearerbox || test -x /usr/sbin/bearerbox; } >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends kannel kannel-extras; }

# The operational store's tests start a throwaway PostgreSQL server (initdb, pg_ctl on a
# loopback port, demo/postgres.py). Installed from Debian only when no server is found.
postgres:
	@{ ls /usr/lib/postgresql/*/bin/initdb || command -v initdb; } >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends postgresql; }

# Spark (pyspark's bundled Spark, for `dbt --target spark`) runs on a Java 17 runtime.
# Installed from Debian only when no java is found.
java:
	@command -v java >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends openjdk-17-jre-headless; }

# The report's browser test opens the HTML in a real headless Chromium.
# Installed from Debian only when missing; sudo only when not root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends chromium; }

# Kannel, Chromium, PostgreSQL and Java were just made sure of, so their tests fail rather
# than skip if missing.
# Two workers, a test module per worker at a time (module fixtures build their world once).
test: install kannel chromium postgres java
	$(PY) -m pytest -n 2 --dist loadfile

# The fast lane: pure functions in tests/unit, no warehouse file, no Dagster instance, no
# server process; tests/integration holds the rest and runs only under `make test`.
test-fast: install
	$(PY) -m pytest tests/unit -q

dev: install $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The opstore phase starts a throwaway PostgreSQL server (demo/postgres.py); the spark
# phases a local Spark (Java).
bench: install postgres java
	$(PY) -m bench $(BENCH_ARGS)

# Reads the analysts' published copy: works while the pipeline runs, writes and sends nothing.
preview: install
	@test -n "$(CAMPAIGN)" || { echo "usage: make preview CAMPAIGN=<id> (a file in campaigns/)"; exit 2; }
	@$(PY) -m dagster_project.pipeline preview $(CAMPAIGN) $(PREVIEW_ARGS)

# Provider callbacks and link clicks into the landing log; host and port from
# SMS_WEBHOOK_HOST / SMS_WEBHOOK_PORT (see "Receiving outcomes" in the README).
webhooks: install
	$(PY) -m dagster_project.webhooks

# dbt docs read the published copy, so they never lock a running pipeline.
DBT := cd dbt && SMS_WAREHOUSE_PATH=$(SMS_DATA_DIR)/published/warehouse.duckdb ../$(VENV)/bin/dbt

docs: install
	@test -f $(SMS_DATA_DIR)/published/warehouse.duckdb || (echo "run 'make demo' first" && exit 1)
	$(DBT) docs generate --profiles-dir .
	@echo "dbt docs written to dbt/target/index.html; 'make docs-serve' serves them on 127.0.0.1:8080"

docs-serve: docs
	$(DBT) docs serve --profiles-dir . --host 127.0.0.1 --port 8080 --no-browser

lint: install
	$(VENV)/bin/ruff check dagster_project demo tests bench

clean:
	rm -rf $(SMS_DATA_DIR)
