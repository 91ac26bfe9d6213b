# The README's commands. Each target makes its own virtual environment on a fresh machine
# (only python3.11 and the package registries needed) and rebuilds it when pyproject.toml changes.
#
#   make demo [ARGS="--scenario alarm"]      the live demo on the in-process emulation
#   make test                                the default test tier (no Docker)
#   make lint                                ruff, mypy, sam validate --lint, cfn-lint
#   make scale                               the slow in-process tier (200 groups in waves, operator journeys)
#   make e2e                                 sam build + sam local invoke against the local server
#   make bench [ARGS=...]                    benchmarks/run.py
#   make build                               sam build
#   make serve [PORT=4566] [ARGS=...]        the local AWS server with the template deployed
#   make base-image                          the offline stand-in Lambda base image (root)
#   make iam-engine                          the IAM policy simulator (npm ci; test-time only)
#   make browser                             the HTML dashboard in headless Chromium (needs /usr/bin/chromium)
#   make iam-report                          granted permissions that no test exercised
#   make checkov                             checkov on template.yaml (its own venv; .checkov.yaml)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter the venv is made from: sam build also needs python3.11 on PATH.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-pyproject
IAM_ENGINE := tools/iam-simulate
IAM_STAMP := $(IAM_ENGINE)/node_modules/.installed-lock
PYTEST_WORKERS ?= 2
PORT ?= 4566
ARGS ?=

# The venv's bin last: its tools are called by path, but `sam build` finds python3.11 here when
# the machine has no python3.11 of its own on PATH.
export PATH := $(PATH):$(CURDIR)/$(BIN)
export SAM_CLI_TELEMETRY := 0

.PHONY: browser help venv demo test lint format scale e2e base-image bench build serve clean iam-engine iam-report checkov

help:
	@sed -n 's/^#   //p' $(MAKEFILE_LIST)
	@echo "make venv                                the virtual environment alone"
	@echo "make format                              ruff format and ruff check --fix"
	@echo "make clean                               build and cache folders"

# Stale when pyproject.toml is newer than the stamp, or when the venv's python is not 3.11
# (say, a .venv left over from another interpreter): then it is made again from scratch.
$(STAMP): pyproject.toml
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then \
		echo "$(VENV) is not Python 3.11: recreating it"; rm -rf $(VENV); fi
	@[ -x $(BIN)/python ] || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing the project and its tools into $(VENV) (the first time takes a few minutes)..."
	@$(BIN)/python -m pip install --progress-bar off --disable-pip-version-check -e '.[dev]' 2>&1 \
		| { grep -E "^(Collecting|Successfully installed|ERROR)" | sed -u 's/^Collecting /  fetching /' || true; }
	@touch $@

venv: $(STAMP)

# The IAM policy simulator the local harness evaluates every call with (Node.js, npm registry).
# Without node, the demo and the server run with IAM unenforced and say so; the tests refuse to.
$(IAM_STAMP): $(IAM_ENGINE)/package-lock.json
	@if command -v npm >/dev/null; then \
		echo "installing the IAM policy simulator ($(IAM_ENGINE))"; \
		npm ci --prefix $(IAM_ENGINE) --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm not found: IAM policies will not be enforced locally"; fi

iam-engine: $(IAM_STAMP)

# The page checker (playwright-core driving Debian's Chromium: no browser download; test-time only).
BROWSER_CHECK := tools/browser-check
BROWSER_STAMP := $(BROWSER_CHECK)/node_modules/.installed-lock
$(BROWSER_STAMP): $(BROWSER_CHECK)/package-lock.json
	npm ci --prefix $(BROWSER_CHECK) --no-audit --no-fund --loglevel=error && touch $@

browser: $(STAMP) $(IAM_STAMP) $(BROWSER_STAMP)
	@command -v chromium >/dev/null || { echo "chromium not found: apt-get install chromium"; exit 1; }
	$(BIN)/pytest -m browser $(ARGS)

demo: $(STAMP) $(IAM_STAMP)
	$(BIN)/asg-refresh demo $(ARGS)

# --dist loadfile: a file's tests stay on one worker, in order; some suites deploy the template
# into moto once per file and do not expect another file's tests in between.
test: $(STAMP) $(IAM_STAMP)
	$(BIN)/pytest -m "not slow and not browser" -n $(PYTEST_WORKERS) --dist loadfile $(ARGS)

# Runs the default tier recording every allowed (role, action, resource), then lists the grants
# no test exercised (scripts/iam_unused_grants.py).
iam-report: $(STAMP) $(IAM_STAMP)
	rm -rf .iam-usage && mkdir -p .iam-usage
	ASG_REFRESH_IAM_USAGE_DIR=$(CURDIR)/.iam-usage $(BIN)/pytest -m "not slow" -n $(PYTEST_WORKERS) --dist loadfile -q $(ARGS)
	$(BIN)/python scripts/iam_unused_grants.py .iam-usage

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy layers/shared local cli functions
	$(BIN)/sam validate --lint --template template.yaml
	$(BIN)/cfn-lint template.yaml

# checkov pins packages of its own that clash with the dev tools: it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/bin/checkov:
	@echo "installing checkov into $(CHECKOV_VENV) (the first time takes a few minutes)..."
	@$(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check checkov==3.3.30 2>&1 \
		| { grep -v "^WARNING: Location '.*' is ignored" || true; }

checkov: $(CHECKOV_VENV)/bin/checkov
	$(CHECKOV_VENV)/bin/checkov -f template.yaml --config-file .checkov.yaml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Needs root (or a running Docker engine): the stand-in base image starts dockerd if needed.
e2e: $(STAMP) base-image
	$(BIN)/pytest -m slow tests/e2e $(ARGS)

# The slow in-process tests (fleet scale: 200 groups in waves); no Docker.
scale: $(STAMP) $(IAM_STAMP)
	$(BIN)/pytest -m slow tests/integration $(ARGS)

base-image:
	scripts/build-lambda-base-image.sh

bench: $(STAMP) $(IAM_STAMP)
	$(BIN)/python benchmarks/run.py $(ARGS)

build: $(STAMP)
	$(BIN)/sam build --template template.yaml

serve: $(STAMP) $(IAM_STAMP)
	$(BIN)/asg-refresh local serve --port $(PORT) $(ARGS)

clean:
	rm -rf .aws-sam .mypy_cache .ruff_cache .pytest_cache .iam-usage
