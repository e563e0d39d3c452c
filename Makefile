# The README's two commands: `make run` and `make test`. Every target creates what it needs.
SHELL := /bin/bash
# The runtime template.yaml names (python3.12): the venv, the layer's bytecode and the deploy rehearsal use it.
# Found on the PATH, else among pyenv's versions (whose shim answers only for the selected version).
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12; do \
	$$p -c 'import sys; print(sys.executable)' 2>/dev/null && break; done)
VENV := .venv
SAM_VENV := .venv-sam
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY := 0

.PHONY: install run test lint typecheck unit iac sam-validate build bench clean runtime-python dashboard routing-figure mutation

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "needs python3.12 (the runtime template.yaml names)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# SAM CLI pins older boto3/pydantic than the runtime wants: it lives in its own venv.
$(SAM_STAMP):
	test -d $(SAM_VENV) || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli>=1.120,<2'
	@# `source .venv/bin/activate` then gives `sam` too (README), from its own venv.
	test ! -d $(VENV)/bin || ln -sf "$(abspath $(SAM_VENV))/bin/sam" $(VENV)/bin/sam
	touch $(SAM_STAMP)

install: $(STAMP) $(SAM_STAMP)
	ln -sf "$(abspath $(SAM_VENV))/bin/sam" $(VENV)/bin/sam

# The stack's keys, costs, mixes, overrides and rankings are kept in .mixcore-state across restarts.
run: $(STAMP)
	$(BIN)/mixcore serve --state-dir .mixcore-state

lint: $(STAMP)
	$(BIN)/ruff check src functions tests bench
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

iac: $(STAMP) $(SAM_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(SAM_VENV)/bin/sam validate --lint --template template.yaml
	$(BIN)/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download

test: lint iac unit

# sam build finds the runtime's python3.12 on the PATH (pyenv's shim answers only for its selected version).
ARCH ?= x86_64
BUILD_DIR ?= .aws-sam/build
build: $(SAM_STAMP)
	PATH="$(dir $(PYTHON)):$$PATH" LAYER_ARCH=$(ARCH) PYTHON=$(PYTHON) $(SAM_VENV)/bin/sam build \
		--template template.yaml --build-dir $(BUILD_DIR) --parameter-overrides Architecture=$(ARCH)

# The runtime's interpreter, for the deploy rehearsal (tests/rehearsal) to start the built functions with.
runtime-python:
	@echo $(PYTHON)

# docs/dashboard.png: template.yaml's dashboard drawn from a minute of local traffic (a test fails when the
# committed picture is older than the template's dashboard).
dashboard: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,docs]'
	$(BIN)/python docs/render_dashboard.py --seconds 60

# docs/routing.png: each router's quality-for-cost curve on RouteLLM's data (a test fails when the committed
# picture's figures differ from what the evaluation computes).
routing-figure: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,docs]'
	$(BIN)/python docs/render_routing.py

# Mutation score of the unit tests on the money, routing-decision and ranking modules (not part of make test).
mutation: $(STAMP)
	$(BIN)/python bench/mutation.py

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
