# The two commands a new user needs: `make run` and `make test`. Everything else is here for them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROTOS := $(wildcard protos/swg/v1/*.proto)
GENERATED := gateway/api/swg/v1/envelope_pb2.py
PKI := certs-example/ca/ca.crt
NODE ?= de-node


.PHONY: console typecheck lint run test test-unit test-integration test-security test-faults lint-imports gen pki demo bench bench-memory clean install lint-proto

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

gen: $(GENERATED)

$(GENERATED): $(PROTOS) scripts/gen_protos.py $(VENV)/.installed
	$(BIN)/python scripts/gen_protos.py
	touch $@

pki: $(PKI)

$(PKI): | $(VENV)/.installed $(GENERATED)
	$(BIN)/gateway pki init --out certs-example
	# The directory pins these certificates and is signed by this CA: both must follow a new PKI.
	$(BIN)/gateway directory pin examples/federation.toml
	$(BIN)/gateway directory sign examples/federation.toml --ca-key certs-example/ca/ca.key --ca-cert certs-example/ca/ca.crt

run: install gen pki
	$(BIN)/gateway serve --config examples/$(NODE).toml

# The operator console against `make run`'s node: http://127.0.0.1:8080/ (docs/console.md). The first time, it
# asks for a password for the user `admin` (operator); add others with `gateway console user add`.
CONSOLE_USERS ?= var/console-users.toml
console: install gen pki
	@mkdir -p $(dir $(CONSOLE_USERS))
	@test -f $(CONSOLE_USERS) || $(BIN)/gateway console user add admin --role operator --users $(CONSOLE_USERS)
	$(BIN)/gateway console --client examples/clients/de-node-admin.toml --listen 127.0.0.1:8080 --users $(CONSOLE_USERS)

lint-imports: install gen
	$(BIN)/lint-imports

# mypy --strict over everything but the generated gateway/api (settings in pyproject.toml).
typecheck: install gen
	$(BIN)/mypy gateway adapters

lint: install
	$(BIN)/ruff check gateway adapters tests bench scripts

# Two nodes of the example federation on loopback play AED, decisions, revenue and assistance.
demo: install gen pki
	$(BIN)/python scripts/demo.py

# `make test` checks the contract with buf wherever npm is there to install it (.ci/run makes sure it is).
LINT_PROTO := $(if $(shell command -v npm 2>/dev/null),lint-proto,)
test: install gen lint-imports lint typecheck $(LINT_PROTO)
	$(BIN)/python -m pytest -q tests

test-unit: install gen
	$(BIN)/python -m pytest -q tests/unit tests/adapters

test-integration: install gen
	$(BIN)/python -m pytest -q tests/integration

# Both print a summary at the end (attacks tried/refused; faults injected, messages accepted/delivered/lost).
# `make test` runs them as part of its single pytest run.
test-security: install gen
	$(BIN)/python -m pytest -q tests/security

test-faults: install gen
	$(BIN)/python -m pytest -q tests/faults

# buf from npm into build/tools (pinned); buf.yaml says which STANDARD rules are relaxed and why.
BUF_VERSION := 1.75.0
BUF := build/tools/node_modules/.bin/buf

$(BUF):
	npm install --silent --no-audit --no-fund --prefix build/tools @bufbuild/buf@$(BUF_VERSION)

lint-proto: $(BUF)
	$(BUF) build
	$(BUF) lint


clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info

# Load test: a real node and a bare gRPC echo baseline driven by one load generator (see docs/performance.md).
# Not part of `make test`. BENCH_ARGS e.g. "--duration 20 --concurrency 128 --rate 500".
BENCH_ARGS ?=
bench: install gen
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Memory: queue BENCH_MEMORY_ITEMS undelivered messages (default 1,000,000; takes a while) and watch the node's RSS.
BENCH_MEMORY_ITEMS ?= 1000000
bench-memory: install gen
	$(BIN)/python -m bench.memory --items $(BENCH_MEMORY_ITEMS)
