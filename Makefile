# The two quickstart commands are `make run` and `make test`; everything else is a helper for them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM := /usr/bin/chromium
# Kerberos: gssapi and krb5 (pyspnego[kerberos]) build against MIT Kerberos's headers; the tests run a real KDC.
KRB5_DEV := /usr/bin/krb5-config
KDC := /usr/sbin/krb5kdc
KRB5_PACKAGES := libkrb5-dev gcc krb5-kdc krb5-admin-server krb5-user

.PHONY: run test install lint types unit lab reliability e2e lock clean

$(STAMP): pyproject.toml constraints.txt | $(KRB5_DEV)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# Node tools (Azurite for the tests, the Teams manifest schemas, the Agents Playground), reinstalled whenever
# package-lock.json changes.
$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "The tests need Node.js 18+ with npm (Azurite, the Teams manifest schemas, the Agents Playground)." >&2; \
	  echo "Install them, for example as root: apt-get update && apt-get install -y nodejs npm" >&2; exit 1; }
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

# The end-to-end tests drive the system's Chromium (Playwright never downloads a browser).
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "The end-to-end tests need Chromium at $(CHROMIUM). Install it as root:" >&2; \
	  echo "  apt-get update && apt-get install -y chromium" >&2; \
	  echo "(or run the other tests only: make unit)" >&2; exit 1; fi
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# MIT Kerberos: headers for the gssapi/krb5 wheels' build, and the KDC the tests start on loopback.
$(KRB5_DEV) $(KDC):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "Kerberos needs MIT Kerberos's development files (gssapi, krb5) and, for the tests, its KDC. Install them as root:" >&2; \
	  echo "  apt-get update && apt-get install -y $(KRB5_PACKAGES)" >&2; exit 1; fi
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $(KRB5_PACKAGES)

install: $(STAMP) $(NODE_STAMP) $(CHROMIUM) $(KDC)

# The Teams-like client needs Node.js; without it `triage run` starts the terminal chat instead.
# `make run SCENARIO=seed-001-sharing-subscription` picks another lab scenario (`triage lab list` lists them).
SCENARIO ?= seed-000-federation-cert
run: $(STAMP)
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); fi
	$(BIN)/triage run --scenario $(SCENARIO)

test: $(STAMP) $(NODE_STAMP) $(CHROMIUM) $(KDC)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

# The suite by marker (pyproject.toml, tests/conftest.py): `make test` runs all of it.
UNIT := not lab and not reliability and not e2e and not cli

unit: $(STAMP) $(NODE_STAMP) $(KDC)
	$(BIN)/pytest -q -m "$(UNIT)"

lab: $(STAMP) $(NODE_STAMP) $(KDC)
	$(BIN)/pytest -q -m "(lab or cli) and not reliability and not e2e"

reliability: $(STAMP) $(NODE_STAMP) $(KDC)
	$(BIN)/pytest -q -m "reliability"

e2e: $(STAMP) $(NODE_STAMP) $(KDC) $(CHROMIUM)
	$(BIN)/pytest -q -m "e2e"

lock: $(STAMP)
	{ echo "# Resolved versions the set-up installs (make lock regenerates this file)."; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
