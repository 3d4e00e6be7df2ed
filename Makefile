# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run dev seed serve test test-quick tools services lint clean bench e2e mailserver

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# First use only: a private .env with a freshly generated SECRET_KEY (no shared default key), readable by its
# owner alone (umask 077: the file is created 0600, never world-readable even for a moment).
.env: | $(BIN)/python
	key=$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))') && umask 077 && \
		sed "s/^SECRET_KEY=.*/SECRET_KEY=$$key/" .env.example > $@
	@echo "Wrote .env with a new SECRET_KEY."

run: $(VENV)/.runtime .env  ## serve the site on SQLite, debugger off, real error pages
	$(BIN)/flask db upgrade
	FLASK_DEBUG=0 $(BIN)/flask run

dev: $(VENV)/.runtime .env  ## serve with the Werkzeug debugger and the reloader
	$(BIN)/flask db upgrade
	$(BIN)/flask run --debug

serve: $(VENV)/.runtime .env  ## serve with gunicorn (gunicorn.conf.py) on the same database as `make run`
	$(BIN)/flask db upgrade
	$(BIN)/gunicorn microblog:app

seed: $(VENV)/.runtime .env  ## fill the database with demo users, posts and follows
	$(BIN)/flask db upgrade
	$(BIN)/flask seed

test: tools services $(VENV)/.dev  ## every test, on SQLite (TEST_DATABASE_URL for PostgreSQL); a missing program fails its tests
	$(BIN)/pytest

test-quick: services $(VENV)/.dev  ## the suite without the programs missing here: their tests are skipped, counted at the end
	TEST_QUICK=1 $(BIN)/pytest

# Scripts rather than recipes (see each): .ci/run calls these two targets once, before its two passes of `make test`.
tools:  ## install Chromium, nginx, wrk and systemd-analyze when missing (root on Debian), else name them and stop
	@.ci/tools

services:  ## start PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) when installed but down (root)
	@.ci/services

e2e: tools $(VENV)/.dev  ## only the browser tests (tests/e2e: Chromium, nginx, wrk)
	$(BIN)/pytest tests/e2e

bench: tools services $(VENV)/.dev  ## load benchmark: gunicorn on SQLite, PostgreSQL and behind nginx under wrk, prints the table; BENCH_ARGS=--help
	$(BIN)/python -m bench $(BENCH_ARGS)

# dev_mail.PrintMail rather than aiosmtpd's Debugging handler, which prints the quoted-printable text as sent:
# a link copied from there is broken.
MAILSERVER_PORT ?= 8025
mailserver: $(VENV)/.dev  ## a local SMTP server on localhost:8025 that prints every mail as a person reads it (run the app with MAIL_SERVER=localhost MAIL_PORT=8025)
	@echo "Each mail sent to localhost:$(MAILSERVER_PORT) is printed here (MAIL_SERVER=localhost MAIL_PORT=$(MAILSERVER_PORT)); Ctrl-C stops."
	$(BIN)/python -m aiosmtpd -n -l localhost:$(MAILSERVER_PORT) -c dev_mail.PrintMail

lint: $(VENV)/.dev  ## ruff check
	$(BIN)/ruff check .

clean:  ## remove the virtualenv and the tool caches
	rm -rf $(VENV) .pytest_cache .ruff_cache
