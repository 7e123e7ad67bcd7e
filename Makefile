# Zone: every target runs inside .venv, created by `make install`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
ZONE := $(BIN)/zone
DEMO := var/demo

.PHONY: install system-packages browser proto proto-check reference reference-check lint test demo serve bench clean

# The tests start a throwaway PostgreSQL 15 cluster (tests/pgkit.py); CI runs as root.
PG_PACKAGE := postgresql-15

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip check
	touch $@

# The console's browser tests drive Debian's chromium (no browser download); CI runs as root.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
		else \
			echo "install Debian's chromium and chromium-driver (as root) for the console's browser tests"; \
		fi; \
	fi

install: system-packages $(VENV)/.installed browser

# Debian would also create and start a default cluster on port 5432: not wanted here.
system-packages:
	@dpkg -s $(PG_PACKAGE) >/dev/null 2>&1 || { \
		echo "installing $(PG_PACKAGE) (the tests start a throwaway PostgreSQL)"; \
		mkdir -p /etc/postgresql-common && \
		echo "create_main_cluster = false" >> /etc/postgresql-common/createcluster.conf && \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(PG_PACKAGE); }

proto: install
	$(BIN)/python scripts/gen_proto.py

# CI: regenerating the checked-in code must change nothing.
proto-check: proto
	git diff --exit-code -- zone/_proto

# docs/REFERENCE.md is generated from the pydantic models; CI checks it is current.
reference: install
	$(BIN)/python scripts/gen_reference.py

reference-check: reference
	git diff --exit-code -- docs/REFERENCE.md

lint: install
	$(BIN)/ruff check zone tests examples benchmarks scripts
	$(BIN)/ruff format --check zone tests examples benchmarks scripts
	$(BIN)/mypy zone
	$(BIN)/python scripts/check_architecture.py

test: install
	$(BIN)/python -m pytest -q

demo: install
	bash examples/run_demo.sh

serve: install
	$(ZONE) serve --config $(DEMO)/zone.yaml

bench: install
	$(BIN)/python benchmarks/bench_rpc.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
