# Two commands: `make run` (web + worker with demo content) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Settings read HOST and PORT: SITE_URL (every absolute link) follows them unless set.
export HOST PORT
export DEBUG ?= 1

.PHONY: install run migrate seed worker web test lint check clean translations messages

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed translations

# The translation catalogues, compiled with polib (no GNU gettext needed): only those
# missing or older than their .po. Made after install, also when install is skipped.
translations:
	$(PY) manage.py compile_translations

migrate: install translations
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
test: install translations
	$(PY) -m pytest -q -n auto --dist loadfile

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: install
	DEBUG=1 $(PY) manage.py check
	DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

# Refresh locale/*/LC_MESSAGES/django.po from the source (needs GNU gettext's xgettext,
# for translators and developers only). The catalogues hold what subscribers see: the
# admin's own strings stay in English, so their files are left out.
LANGUAGE_CODES ?= en fr de it es
MESSAGES_IGNORE := .venv tests bench var docs penelope/* cms/* */migrations/* \
	mailing/admin/* mailing/models/* mailing/management/* mailing/import*.py \
	mailing/spreadsheets.py mailing/digests.py mailing/sending/* mailing/campaigns.py \
	mailing/wagtail_hooks.py mailing/segments.py mailing/exporting.py \
	templates/mailing/admin/* templates/mailing/campaigns/* templates/newsletters/admin/* \
	templates/wagtailadmin/* templates/cms/* templates/interviews/* \
	interviews/blocks.py interviews/wagtail_hooks.py newsletters/admin_views.py \
	newsletters/checks.py newsletters/drafting.py newsletters/wagtail_hooks.py \
	newsletters/validators.py newsletters/panels.py newsletters/models.py
messages: install
	$(PY) manage.py makemessages --no-obsolete --extension html,txt,py,mjml \
		$(foreach code,$(LANGUAGE_CODES),--locale $(code)) \
		$(foreach pattern,$(MESSAGES_IGNORE),--ignore '$(pattern)')
	$(PY) manage.py compile_translations

clean:
	rm -rf $(VENV) var
