# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test setup chromium lint bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[postgres,redis,azure,test]'
	# Semgrep in a virtualenv of its own (its OpenTelemetry pins clash with ours): the pyproject `semgrep` extra.
	test -x $(VENV)/semgrep/bin/python || $(PY) -m venv $(VENV)/semgrep
	$(PY) -c "import subprocess, sys, tomllib; extra = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['semgrep']; sys.exit(subprocess.call(['$(VENV)/semgrep/bin/pip', 'install', '--quiet', *extra]))"
	rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py ensure_admin
	$(PY) manage.py serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

test: setup chromium lint
	$(PY) -m pytest
	$(PY) tests/services_mode.py

bench: setup
	$(PY) benches/overhead.py

clean:
	rm -rf $(VENV) data
