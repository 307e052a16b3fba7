# Two commands: `make run` (web + worker with demo content) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Settings read HOST and PORT: SITE_URL (every absolute link) follows them unless set.
export HOST PORT
export DEBUG ?= 1

.PHONY: install run migrate seed worker web test lint check clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Web server and django-q2 worker together; Ctrl-C stops both.
run: seed
	@echo ""
	@echo "Starting the worker (qcluster) and the web server: open the admin address"
	@echo "printed above and log in with its user and password. Ctrl-C stops both."
	@echo ""
	@trap 'kill 0' INT TERM EXIT; \
	$(PY) manage.py qcluster & \
	$(PY) manage.py runserver $(HOST):$(PORT)

# Independent test files run in parallel, one process per core (pytest-xdist).
test: install
	$(PY) -m pytest -q -n auto --dist loadfile

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: install
	DEBUG=1 $(PY) manage.py check
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var
