# Every habit is one command; `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The packages that lint and format cover: the connector, what it is tested against, its tests.
CODE   := connector sandbox tests bench

.DEFAULT_GOAL := help
.PHONY: help install test unit lint format demo bench profile faults clean

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml sandbox/kafka_pom.xml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m sandbox.kafka_broker fetch
	$(BIN)/python -m sandbox.schema_registry fetch
	@touch $@

install: $(STAMP) ## Create .venv, install the connector and dev tools, fetch the Kafka broker and Schema Registry

test: install ## Install everything and run the whole test suite (real Kafka broker + Timeplus emulator)
	$(BIN)/pytest -q

unit: install ## Only the tests that need no broker
	$(BIN)/pytest -q tests/unit

lint: install ## ruff format --check, ruff check, mypy --strict (connector, sandbox, tests, bench)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/ruff check $(CODE)
	$(BIN)/mypy --strict $(CODE)

format: install ## Apply ruff's formatting and safe fixes
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

demo: install ## Run the main job locally: Kafka broker, Timeplus emulator, producer, connector; print what landed
	$(BIN)/python -m sandbox.demo

bench: install ## Type-layer micro-benchmark, then the connector against its own ceilings (bench/README.md); ARGS="--messages 200000" to change
	$(BIN)/python -m bench.micro_types
	$(BIN)/python -m bench.bench $(ARGS)

profile: install ## CPU µs per message of decode + mapping, per phase and column (bench/README.md); ARGS="--workload current"
	$(BIN)/python -m bench.profile_mapping $(ARGS)

faults: install ## Run the fault-injection tests and print the table of faults and outcomes
	$(BIN)/pytest -q -m slow -p no:cacheprovider

clean: ## Remove the virtualenv, caches and build output (the Kafka jar cache outside the repo stays)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info .demo build dist
