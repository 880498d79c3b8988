# clientele — two commands do everything on a fresh machine with Python 3.11 and make:
#   make demo   build the environment, generate sample data, run every asset, print outputs
#   make test   build the environment if needed and run the whole suite
# CI also runs `make test-faults`: the fault-injection suite (tests/faults, about 30 minutes).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
CLIENTELE_HOME ?= $(CURDIR)/data
export CLIENTELE_HOME

DEMO_CUSTOMERS ?= 2000
DEMO_SEED ?= 7

SPARK_STAMP := $(VENV)/.spark-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: venv demo test test-faults test-spark lint dev clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "clientele needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(BIN)/clientele generate --customers $(DEMO_CUSTOMERS) --seed $(DEMO_SEED) --dirt
	$(BIN)/clientele run
	@$(BIN)/python -c "import duckdb; c = duckdb.connect('$(CLIENTELE_HOME)/published/clientele.duckdb', read_only=True); print(c.sql('select scheme, label, customers, share, revenue_12m from main.loyalty_scorecard order by scheme, sort_order limit 12'))"

test: $(STAMP)
	$(BIN)/ruff check orchestration generator tests bench
	$(BIN)/python -m pytest

# Crash safety (issue 17 e): kill -9 at seeded points of every step (CLIENTELE_FAULT_SEED),
# a server killed mid-run, a full disk while publishing, a truncated warehouse, two writers.
# `make test` leaves tests/faults out (pyproject.toml); naming the folder runs it.
test-faults: $(STAMP)
	$(BIN)/python -m pytest tests/faults

# The Spark engine (issue 22): the same night on DuckDB and on Spark (local mode), every
# published table compared cell for cell, and the dbt unit tests on Spark. Installs the spark
# extra (pyspark, dbt-spark) and, when the machine has no Java, Debian's Java 17.
test-spark: $(SPARK_STAMP)
	$(BIN)/python -m pytest tests/engines -s

$(SPARK_STAMP): $(STAMP)
	command -v java >/dev/null || { apt-get update -q && apt-get install -y -q openjdk-17-jre-headless; } \
	  || { sudo apt-get update -q && sudo apt-get install -y -q openjdk-17-jre-headless; }
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	touch $@

lint: $(STAMP)
	$(BIN)/ruff check orchestration generator tests bench
	$(BIN)/ruff format --check orchestration generator tests bench

dev: $(STAMP)
	$(BIN)/clientele serve

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
