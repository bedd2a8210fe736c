# lmms-eval-client: every target installs what it needs into .venv first.
SHELL := /bin/bash
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# The pinned real server: the only place its version is written. Bumping it reinstalls
# (the stamp is per version) and makes spec-check fail until openapi.yaml names it.
LMMS_EVAL_VERSION := 0.7.3
STAMP := $(VENV)/.installed-lmms-eval-$(LMMS_EVAL_VERSION)
GEN_OUT := generated/lmms_eval_api

.PHONY: install generate check-generated spec-check lint typecheck test bench unit contract demo \
	demo-runs demo-watch demo-report bench-runs mutate
.PHONY: registry check-registry

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,testing,docs]'
	# The pinned real server, without its ML stack: enough to serve its HTTP API.
	$(PY) -m pip install --quiet --no-deps lmms-eval==$(LMMS_EVAL_VERSION)
	rm -f $(VENV)/.installed $(VENV)/.installed-lmms-eval-*
	touch $(STAMP)

# Regenerate generated/ from openapi.yaml and codegen/, evaluate()'s parameter lists from
# their table (_client/evaluate_params.py), and the sync client classes (_sync/) from their
# async source (never edit the generated parts by hand).
generate: $(STAMP)
	PY=$(PY) bash codegen/generate.sh $(GEN_OUT)
	$(PY) codegen/evaluate_params.py
	$(PY) codegen/make_sync.py
	$(PY) codegen/public_names.py

# Fails when generated/, evaluate()'s parameter lists, _sync/ or the public names' table
# differ from a fresh generation.
check-generated: $(STAMP)
	PY=$(PY) bash codegen/generate.sh --check $(GEN_OUT)
	$(PY) codegen/evaluate_params.py --check
	$(PY) codegen/make_sync.py --check
	$(PY) codegen/public_names.py --check

# Fails, naming each difference, when openapi.yaml and the pinned live server's contract
# differ (both ways for what the client sends). Against a running server instead:
#   .venv/bin/python codegen/spec_check.py --url http://host:port/openapi.json openapi.yaml
spec-check: $(STAMP)
	$(PY) codegen/spec_check.py --pin $(LMMS_EVAL_VERSION) openapi.yaml

# The local server's copy of the pinned lmms-eval's task and model registries.
REGISTRY := src/lmms_eval_client/testing/registry.json
registry: $(STAMP)
	$(PY) codegen/build_registry.py --output $(REGISTRY)

# Fails, with a diff, when $(REGISTRY) differs from a fresh build from the pinned package.
check-registry: $(STAMP)
	$(PY) codegen/build_registry.py --check --output $(REGISTRY)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(PY) codegen/verify_types.py

# The tests of tests/docs read the site `make docs` built (LMMS_EVAL_CLIENT_DOCS_HTML) and
# load it in Chromium (`make chromium`); the PostgreSQL ledger's tests start a PostgreSQL
# server (`make postgresql`).
test: $(STAMP) check-generated spec-check check-registry lint typecheck docs chromium postgresql
	LMMS_EVAL_CLIENT_DOCS_HTML=$(DOCS_HTML) $(BIN)/pytest -q

# The docs site (docs/, Sphinx + MyST + furo; CONTRIBUTING.md says why) into build/docs/html,
# offline, every warning an error. -E -a: a fresh build, so a warning of an unchanged page
# is not hidden by the previous build.
DOCS_HTML := build/docs/html
.PHONY: docs docs-screenshots chromium postgresql package
docs: $(STAMP)
	$(BIN)/sphinx-build -E -a -W --keep-going -q -b html docs $(DOCS_HTML)
	@echo "make docs: $(DOCS_HTML)/index.html, 0 warnings"

# Debian's chromium, for the docs' screenshots and their console-error check (as .ci/run
# installs tmux: apt-get, with sudo when not root).
chromium:
	@command -v chromium >/dev/null || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium; }

# Debian's PostgreSQL server programs, for the tests of the PostgreSQL ledger
# (tests/postgres.py runs initdb and pg_ctl from /usr/lib/postgresql/*/bin; as chromium).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq postgresql; }

# Headless Chromium screenshots of the built site's home page and an API page into
# build/docs-screenshots/ (untracked); fails on a console error.
docs-screenshots: docs chromium
	$(PY) scripts/docs_screenshots.py $(DOCS_HTML) build/docs-screenshots

# The sdist and the wheel users install, into dist/, checked by twine.
package: $(STAMP)
	rm -rf dist
	$(PY) -m build --outdir dist
	$(BIN)/twine check --strict dist/*

# Real completed evaluations, not part of `make test`: the pinned real server, from a CPU-only
# environment built once and cached (real_lane/build_env.py), completes real jobs against the
# chat server and tasks of tests/real_completion; prints its duration.
.PHONY: test-real
test-real: $(STAMP)
	@start=$$(date +%s); \
	env_dir=$$($(PY) real_lane/build_env.py) && \
	LMMS_EVAL_CLIENT_REAL_ENV="$$env_dir" $(BIN)/pytest -q -n 0 -m real_completion tests/real_completion; \
	rc=$$?; echo "make test-real: $$(( $$(date +%s) - start )) s"; exit $$rc

# The tour of the docs' home page: health, models, two jobs, the queue, a cancel, a wait with progress,
# the results. Against a local server started (and stopped) by examples/quickstart.py, or
# against $(LMMS_EVAL_BASE_URL) when it is set.
demo: $(STAMP)
	$(PY) examples/quickstart.py

# lmms-eval's training-loop pattern with EvalRun (examples/training_loop.py), against a local
# server (or $(LMMS_EVAL_BASE_URL)).
demo-runs: $(STAMP)
	$(PY) examples/training_loop.py

# Evaluate while you train (examples/watch_demo.py): a fake trainer writes five checkpoints,
# `lmms-eval-client watch` submits each once, killed and restarted halfway; metric vs step.
demo-watch: $(STAMP)
	$(PY) examples/watch_demo.py

# See a run: 6 checkpoints on a local server (examples/report_demo.py), one HTML report
# written under build/report-demo/ (untracked), its path printed.
demo-report: $(STAMP)
	$(PY) examples/report_demo.py -o build/report-demo/report.html

# Benchmarks, not part of `make test`: the SDK against raw httpx and lmms-eval 0.7.3's
# client (latency, import time, 1,000-job fan-out, wait precision) and false "job may exist"
# alarms after idle pauses; the ledger in SQLite vs PostgreSQL (bench_ledger_stores.py, about
# 30 s); evaluation runs; an AsyncEvalRun's event-loop stalls (a poll of 1,000 pending jobs, a
# 5 MB results summary); an EvalRun at 100, 1,000 and 10,000 jobs
# (bench_run_scale.py: 4 to 8 of them on 2026-12 code, by the load); about 12-16 minutes.
# Tables go to stdout and build/bench/ (untracked): the tree stays clean.
bench: $(STAMP)
	$(PY) benchmarks/run.py
	$(PY) benchmarks/bench_ledger_stores.py
	$(PY) benchmarks/bench_runs.py
	$(PY) benchmarks/bench_loop_stall.py
	$(PY) benchmarks/bench_run_scale.py

# `make bench` writes its table under build/bench/ (untracked); this records run.py's table
# in the tracked benchmarks/results.md instead.
.PHONY: bench-record
bench-record: $(STAMP)
	$(PY) benchmarks/run.py --output benchmarks/results.md

# Evaluation runs only: the ledger in SQLite vs PostgreSQL (submissions/s, idle and changed
# polls, each beside its raw-httpx floor, on a PostgreSQL server it starts and stops;
# build/bench/ledger_stores.txt); requests per poll interval for 1,000 pending jobs, ledger
# writes/s; an EvalRun at 100, 1,000 and 10,000 jobs (poll vs raw GET /queue, ledger bytes
# per job, peak RSS, AsyncEvalRun's loop stall, submissions/s; build/bench/run_scale.txt).
bench-runs: $(STAMP)
	$(PY) benchmarks/bench_ledger_stores.py
	$(PY) benchmarks/bench_runs.py
	$(PY) benchmarks/bench_run_scale.py

# Mutation run, not part of `make test`: each named mutation of scripts/mutations.toml
# (a promise broken on purpose) applied alone to a copy of the tree, its tests run; prints
# mutation | killed by, and fails when one SURVIVED. A few minutes.
mutate: $(STAMP)
	$(PY) scripts/mutate.py

# A pool's routing vs round-robin vs the ideal: 60 jobs over 3 local servers (about 40 s).
.PHONY: bench-pool
bench-pool: $(STAMP)
	$(PY) benchmarks/bench_pool.py
