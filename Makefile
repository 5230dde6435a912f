# Everything a fresh machine needs: `make demo` runs the main job, `make test` the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.make-venv.stamp
VENV_INPUTS := pyproject.toml setup.py instrumentation/pyproject.toml $(wildcard src/cobalt_trace/*/_native/*.c) .ci/system-packages

.PHONY: venv test demo lint clean system-packages

venv: $(STAMP)

$(STAMP): $(VENV_INPUTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,store,clickhouse]' -e './instrumentation[test]'
	@touch $(STAMP)

# Debian packages the tests use (rabbitmq-server, chromium); installed only when running as root.
system-packages:
	@bash .ci/system-packages

test: venv system-packages
	$(PY) -m ruff check src instrumentation/src tests instrumentation/tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 --dist loadfile -q

demo: venv
	@bash .ci/system-packages rabbitmq-server
	$(PY) -m cobalt_trace.cli.main demo

clean:
	rm -rf $(VENV) build src/*.egg-info instrumentation/src/*.egg-info
	find . -name '*.so' -path '*/wire/*' -delete
