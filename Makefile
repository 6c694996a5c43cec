# The user's interface to idp-slo. `make demo` and `make test` are the quick start.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -euo pipefail -c

VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
# Debian packages the tests run for real: promtool/prometheus, amtool, PostgreSQL, Redis,
# and Chromium (headless screenshots of `idp-rulegen report`'s HTML).
DEB_PACKAGES := prometheus prometheus-alertmanager postgresql redis-server chromium
# The binary that proves each package is installed, in the same order.
DEB_BINARIES := /usr/bin/promtool /usr/bin/amtool /usr/lib/postgresql/15/bin/pg_ctl /usr/bin/redis-server /usr/bin/chromium

.PHONY: setup system-packages test lint typecheck pytest render check demo bench clean

# Grafana's classic dashboard schema as JSON Schema, built from the pinned npm packages.
GRAFANA_SCHEMA := tools/grafana-schema
SCHEMA_JSON := $(GRAFANA_SCHEMA)/build/dashboard.schema.json

setup: system-packages $(VENV)/.installed $(SCHEMA_JSON)

system-packages:
	@bash scripts/system-packages.sh $(DEB_PACKAGES) -- $(DEB_BINARIES)

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(SCHEMA_JSON): $(addprefix $(GRAFANA_SCHEMA)/,package.json package-lock.json build-schema.js source.js)
	bash scripts/grafana-schema.sh

test: setup lint typecheck pytest

lint:
	$(BIN)/ruff check common exporter rulegen devstack tests bench
	$(BIN)/ruff format --check common exporter rulegen devstack tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

render: setup
	$(BIN)/idp-rulegen render slo.yaml

check: setup
	$(BIN)/idp-rulegen render slo.yaml --check
	$(BIN)/idp-rulegen check .

demo: setup  # ARGS="--clusters 3": split mode, three clusters and a central Prometheus
	$(PY) -m devstack.demo $(ARGS)

bench: setup  # every bench/*.py but the libraries, bench/_*.py
	for b in bench/[!_]*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
	rm -rf $(GRAFANA_SCHEMA)/node_modules $(GRAFANA_SCHEMA)/build
