# pbx-ext: `make run` brings the PBX up on the example site, `make test` runs everything.
# Both work as root on a fresh Debian 12 machine: they install what is missing first.

SITE ?= examples/office.yaml
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := mmdebstrap sip-tester python3-venv
PYTEST_ARGS ?=

.PHONY: run test unit functional lint format sandbox system-deps venv bench clean

run: sandbox
	$(VENV)/bin/pbx-ext up $(SITE)

test: lint sandbox
	$(PY) -m pytest $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

functional: sandbox
	$(PY) -m pytest tests/functional $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The Debian sid root with Asterisk 22, cached in ~/.cache/pbx-ext (built once per machine).
sandbox: system-deps venv
	$(VENV)/bin/pbx-ext sandbox build

bench: sandbox
	$(PY) bench/calls.py

system-deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | system-deps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
