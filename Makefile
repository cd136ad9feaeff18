# readerstation: `make run` sets up and starts the workstation; `make test` sets up and runs all tests.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SAMPLE ?= sample_dicom

.PHONY: run test setup system-deps sample lint test-core test-ui bench clean

system-deps:
	bash scripts/system-deps.sh

$(BIN)/.installed: pyproject.toml plugins/napari-readerstation/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]' -e 'plugins/napari-readerstation[test]'
	touch $@

setup: system-deps $(BIN)/.installed

sample: setup
	$(BIN)/readerstation sample generate --out $(SAMPLE)

run: setup sample
	$(BIN)/napari-readerstation $(SAMPLE)

lint: setup
	$(BIN)/ruff check src tests bench plugins/napari-readerstation
	$(BIN)/ruff format --check src tests bench plugins/napari-readerstation
	$(BIN)/lint-imports
	$(BIN)/mypy

# The store tests also run on a real PostgreSQL server, started on 127.0.0.1 for the run.
test-core: setup sample
	pg_url="$$(bash scripts/test-postgres.sh start)" || { echo "could not start PostgreSQL for the tests"; exit 1; }; \
	  trap 'bash scripts/test-postgres.sh stop' EXIT; \
	  READERSTATION_TEST_PG_URL="$$pg_url" $(BIN)/python -m pytest -q -n 2 --doctest-modules \
	    --ignore=src/readerstation/store/migrations tests src/readerstation

test-ui: setup sample
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python -m pytest -q plugins/napari-readerstation/tests

test: lint test-core test-ui

bench: setup sample
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info plugins/napari-readerstation/src/*.egg-info
