# The two commands a newcomer needs: `make run` and `make test`. Both set up everything on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run test bench

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The service on the embedded SQLite default, with demo data.
run: $(STAMP)
	scripts/system-packages
	QINGLING_DEMO=true QINGLING_PUBLIC_BASE_URL=$${QINGLING_PUBLIC_BASE_URL:-$(PUBLIC_BASE_URL)} \
	  $(BIN)/qingling demo
	QINGLING_DEMO=true QINGLING_PUBLIC_BASE_URL=$${QINGLING_PUBLIC_BASE_URL:-$(PUBLIC_BASE_URL)} \
	  $(BIN)/qingling run --host $(HOST) --port $(PORT)

# The whole test suite (SQLite unless QINGLING_TEST_DATABASE_URL names a PostgreSQL database).
test: $(STAMP)
	scripts/system-packages --test
	$(BIN)/python -m pytest

# Every benchmark and one table of figures, targets and pass/fail, kept in bench/RESULTS.md
# (BENCH_ARGS=--quick for smaller sizes; BENCH_ARGS="--only load webhooks" reruns some and keeps the others' rows).
bench: $(STAMP)
	scripts/system-packages --bench
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python bench/run_all.py --markdown bench/RESULTS.md $(BENCH_ARGS)
