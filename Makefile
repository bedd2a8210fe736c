# lmms-eval-client: every target installs what it needs into .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
LMMS_EVAL_VERSION := 0.7.3
STAMP := $(VENV)/.installed
GEN_OUT := generated/lmms_eval_api

.PHONY: install generate check-generated spec-check lint typecheck test bench unit contract demo mutate

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,testing]'
	# The pinned real server, without its ML stack: enough to serve its HTTP API.
	$(PY) -m pip install --quiet --no-deps lmms-eval==$(LMMS_EVAL_VERSION)
	touch $(STAMP)

# Regenerate generated/ from openapi.yaml and codegen/, and the sync client classes
# (src/lmms_eval_client/_sync/) from their async source (never edit either by hand).
generate: $(STAMP)
	PY=$(PY) bash codegen/generate.sh $(GEN_OUT)
	$(PY) codegen/make_sync.py

# Fails when generated/ or _sync/ differs from a fresh generation.
check-generated: $(STAMP)
	PY=$(PY) bash codegen/generate.sh --check $(GEN_OUT)
	$(PY) codegen/make_sync.py --check

# Fails, naming each difference, when the pinned live server's contract is not covered
# by openapi.yaml.
spec-check: $(STAMP)
	$(PY) codegen/spec_check.py openapi.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) check-generated spec-check lint typecheck
	$(BIN)/pytest -q

# The README's tour: health, models, two jobs, the queue, a cancel, a wait with progress,
# the results. Against a local server started (and stopped) by examples/quickstart.py, or
# against $(LMMS_EVAL_BASE_URL) when it is set.
demo: $(STAMP)
	$(PY) examples/quickstart.py

# Benchmarks, not part of `make test`: the SDK against raw httpx and lmms-eval 0.7.3's
# client (latency, import time, 1,000-job fan-out, wait precision); about 3 minutes.
bench: $(STAMP)
	$(PY) benchmarks/run.py

# Mutation run, not part of `make test`: each named mutation of scripts/mutations.toml
# (a promise broken on purpose) applied alone to a copy of the tree, its tests run; prints
# mutation | killed by, and fails when one SURVIVED. A few minutes.
mutate: $(STAMP)
	$(PY) scripts/mutate.py
