PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Where the server caches its operation-search index (config.Settings.index_cache_dir).
INDEX_DIR ?= $(or $(AWS_MCP_CACHE_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/aws-ops-mcp)
# Built once per botocore version when the environment is installed, so the first search does not wait
# seconds for it. A failure does not fail the install: the server then builds the index at start-up.
BUILD_INDEX = $(BIN)/python -m catalog.search "$(INDEX_DIR)" \
	|| echo "operation-search index not prebuilt; the server builds it at start-up" >&2

# The MCP Inspector CLI and Node 22 to run it (tests/inspector/package-lock.json pins both), for the tests that
# drive the server with a client independent of the Python SDK.
INSPECTOR := tests/inspector/node_modules/.installed

.PHONY: run run-stdio test lint bench docker docker-sandbox clean

# The venv is made whole or not at all: a failed creation (no ensurepip, no network) removes it, so the next
# make starts over instead of installing into a venv without pip. Python 3.11 or newer, as pyproject.toml says.
$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		found=$$(command -v $(PYTHON) >/dev/null && $(PYTHON) -V 2>&1 || echo not found); \
		echo "aws-ops-mcp needs Python 3.11 or newer; $(PYTHON) is $$found." >&2; \
		echo "Pick one with: make PYTHON=python3.12 $(or $(MAKECMDGOALS),run)" >&2; exit 1; }
	$(PYTHON) -m venv --clear $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip \
		|| { rm -rf $(VENV); exit 1; }

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BUILD_INDEX)
	touch $@

# The sandbox (moto and its dependencies) on top of the runtime set: `make run` serves it.
$(VENV)/.sandbox: requirements.txt requirements-sandbox.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-sandbox.txt
	$(BUILD_INDEX)
	touch $@ $(VENV)/.runtime

$(VENV)/.dev: requirements.txt requirements-sandbox.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BUILD_INDEX)
	touch $@ $(VENV)/.runtime $(VENV)/.sandbox

run: $(VENV)/.sandbox
	$(BIN)/python server.py --sandbox --port $(PORT)

run-stdio: $(VENV)/.runtime
	$(BIN)/python server.py --transport stdio

$(INSPECTOR): tests/inspector/package.json tests/inspector/package-lock.json
	cd tests/inspector && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

test: $(VENV)/.dev $(INSPECTOR)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.dev
	$(BIN)/python -m bench

docker:
	docker build -t aws-ops-mcp .

docker-sandbox:
	docker build --target sandbox -t aws-ops-mcp-sandbox .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/inspector/node_modules
