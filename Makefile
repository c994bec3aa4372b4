# Every target here is a command the README shows. The virtualenv is the one Pulumi uses too
# (Pulumi.yaml: runtime.options.virtualenv), so `make` and `pulumi` run the same packages.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STACK ?= dev
STAMP := $(VENV)/.installed

.PHONY: venv charts schema test lint fmt up preview preflight verify review review-all simulate trace bench mutation clean

# (Re)install only when a requirements file changed since the last install.
$(STAMP): requirements.txt requirements-dev.txt policies/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

## The pinned charts in .cache/charts/ (arc_eks/review/charts.py): copied from
## ../shared/reference/charts when there, else pulled once (digest checked). Cheap when filled.
charts: $(STAMP)
	$(BIN)/python -m arc_eks.review.charts

## The team-file JSON Schema (schema/team.schema.json), generated from the pool model; a test
## fails when the committed file is out of step.
schema: $(STAMP)
	$(BIN)/python -m arc_eks.config.team_schema --write

## Offline test suite: sets up its own virtualenv from nothing.
test: charts
	$(BIN)/python -m pytest -q

## ruff (lint + format check) and mypy (with the pydantic plugin).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Deploy one environment: `make up STACK=dev` (needs the Pulumi CLI and AWS credentials).
up: $(STAMP)
	STACK=$(STACK) VENV=$(VENV) scripts/deploy.sh up

## Preview one environment with the policy pack of that environment.
preview: $(STAMP)
	STACK=$(STACK) VENV=$(VENV) scripts/deploy.sh preview

## Read-only checks of the account before a deploy (AWS credentials; `make up` runs them too).
preflight: $(STAMP)
	$(BIN)/python -m arc_eks.ops.preflight --stack $(STACK) $(ARGS)

## After `make up`: the deployed stack against its config (AWS credentials, the Pulumi CLI logged in
## to the stack's backend, the AWS CLI for the kubeconfig). The outputs go through a pipe, not a file.
verify: $(STAMP)
	set -o pipefail; pulumi stack output --stack $(STACK) --json --show-secrets \
	  | $(BIN)/python -m arc_eks.ops.verify --stack $(STACK) --outputs - $(ARGS)

## Offline review: no AWS credentials, no Pulumi CLI.
review: charts
	$(BIN)/python -m arc_eks.review --stack $(STACK)

## Offline review of every stack in stacks/ (your own config: CI runs it on every change).
review-all: charts
	@status=0; for file in stacks/Pulumi.*.yaml; do \
	  env=$${file#stacks/Pulumi.}; env=$${env%.yaml}; \
	  echo "=== make review STACK=$$env"; \
	  $(BIN)/python -m arc_eks.review --stack $$env || status=1; \
	done; exit $$status

## Scaling model: replay a job trace against the stack's pools (docs/scaling-model.md).
## `make simulate STACK=prod TRACE=examples/traces/week.csv ARGS="--set payments/build.autoscaling.min=1"`
TRACE ?= examples/traces/week.csv
simulate: $(STAMP)
	$(BIN)/python -m arc_eks.simulate --stack $(STACK) --trace $(TRACE) --html build/simulate/$(STACK).html $(ARGS)

## A job trace: `make trace OUT=trace.csv` (synthetic, the shipped trace's shape; ARGS="--days 30"),
## or from GitHub: `GITHUB_TOKEN=... make trace TRACE_SOURCE=github ARGS="--organization acme
## --since 2026-11-02T00:00:00Z --until 2026-11-09T00:00:00Z"`.
OUT ?= build/trace.csv
TRACE_SOURCE ?= synthetic
trace: $(STAMP)
	$(BIN)/python -m arc_eks.simulate.tracegen $(TRACE_SOURCE) --out $(OUT) $(ARGS)

bench: charts
	$(BIN)/python scripts/bench_review.py
	$(BIN)/python scripts/bench_simulate.py

## Mutation score of the security-critical modules (slow; not part of `make test` or CI).
## `make mutation MODULES="iam s3_grants"` runs only those (names: scripts/mutation.py --list);
## `SINCE=<commit>` only the mutants on lines changed since that commit; `RETRY=1` only the survivors
## of the earlier run (after adding tests; the module itself unchanged).
MUTATION_STAMP := $(VENV)/.mutation-installed
$(MUTATION_STAMP): $(STAMP) requirements-mutation.txt
	$(BIN)/python -m pip install --quiet -r requirements-mutation.txt
	@touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	nice -n 15 $(BIN)/python scripts/mutation.py $(if $(SINCE),--since $(SINCE)) $(if $(RETRY),--retry) $(MODULES)

clean:
	rm -rf $(VENV) build
