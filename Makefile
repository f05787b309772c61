# make run: the app on http://127.0.0.1:7860 · make test: every test · make lint: ruff
# Both set up .venv from the pinned requirements first (again only when a requirements file changes).
VENV := .venv
PYTHON := $(VENV)/bin/python
CHROMIUM := /usr/bin/chromium

.PHONY: run test lint chromium

run: $(VENV)/.app-installed
	$(PYTHON) app.py

test: $(VENV)/.dev-installed chromium
	$(PYTHON) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

$(VENV)/.app-installed: requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -r requirements-dev.txt
	touch $@ $(VENV)/.app-installed

# The browser test drives Debian's Chromium (never a Playwright download); installed here when we are root
# or may sudo without a password, else the browser test skips and says how to install it.
chromium:
	@test -x $(CHROMIUM) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  elif sudo -n true 2>/dev/null; then sudo apt-get update && sudo apt-get install -y chromium; \
	  else echo "note: $(CHROMIUM) missing and no root: run 'sudo apt-get install chromium' for the browser test"; fi; }
