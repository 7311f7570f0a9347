# Two commands do everything (README): `make run` and `make test`. Both set up .venv from requirements.txt first.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 9090
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: run lint test synth bench clean rotate-token

# Then the client library and the `l0` CLI (client/, pyproject.toml [project]) in editable mode: .venv/bin/l0.
$(VENV)/.installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

run: $(VENV)/.installed
	$(PY) -m local --port $(PORT)

# ruff (pyproject.toml [tool.ruff]) and mypy (pyproject.toml [tool.mypy]: mypy_path = "functions:client" makes the
# Lambda asset's `layer0` and `handlers`, and the client's `layer0_client`, top-level packages, as they are in the
# asset, in the installed CLI and under pytest).
LINTED := functions infra local benchmarks client app.py
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy $(LINTED)

# Three workers, one test file each at a time: the end-to-end suites mostly wait on local mode's clocks, so the
# suite takes about 16 minutes on 2 cores (README.md#the-two-commands). Lint first.
test: lint
	$(PY) -m pytest -n 3 --dist loadfile

synth: $(VENV)/.installed
	$(PY) app.py

# A new API token (README.md#token-rotation): a new AWSCURRENT version of the auth secret, the old one kept as
# AWSPREVIOUS and still accepted for one authorizer-cache period. SECRET is the stack's AuthSecretArn output; the
# region comes from it. Prints the new version's id, never the token.
rotate-token: $(VENV)/.installed
	@test -n "$(SECRET)" || { echo "usage: make rotate-token SECRET=<the stack's AuthSecretArn output>" >&2; exit 2; }
	AWS_REGION=$${AWS_REGION:-$$(echo "$(SECRET)" | cut -d: -f4)} PYTHONPATH=functions \
		$(PY) -c 'import sys; from layer0 import auth; print("New AWSCURRENT version:", auth.rotate(sys.argv[1]))' "$(SECRET)"

bench: $(VENV)/.installed
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) cdk.out .build .mypy_cache .ruff_cache
