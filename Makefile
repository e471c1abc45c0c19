# Kefu: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
BIN := $(VENV)/bin
# Runtime dependencies only (`make run`); the dev extra adds the test and lint
# tools (pyproject.toml [project.optional-dependencies] dev) for the targets
# that need them.
STAMP_INSTALL := $(VENV)/.installed
STAMP_DEV := $(VENV)/.installed-dev
STAMP_MODEL := models/.trained

# Rasa 3.6 needs CPython 3.10. The plain name often is a pyenv shim that fails,
# so it must actually run before we accept it.
PYTHON310 := $(shell \
  if python3.10 -c 'import sys' >/dev/null 2>&1; then echo python3.10; \
  else for p in $$(pyenv root 2>/dev/null)/versions/3.10.*/bin/python3.10 $$HOME/.pyenv/versions/3.10.*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
    if [ -x "$$p" ] && "$$p" -c 'import sys' >/dev/null 2>&1; then echo "$$p"; break; fi; done; fi)

# Everything the trained model depends on; endpoints/credentials are runtime-only.
MODEL_INPUTS := bot/config.yml bot/domain.yml $(wildcard bot/components/*.py) $(wildcard bot/dict/*) \
                $(shell find data -type f -name '*.yml' 2>/dev/null)

# A stamp without a model (models/ emptied by hand) must not skip training.
ifeq ($(wildcard models/*.tar.gz),)
$(shell rm -f $(STAMP_MODEL))
endif

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: run run-scaled test test-fast lint screenshots train venv clean

venv: $(STAMP_INSTALL)

$(STAMP_INSTALL): pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then \
	  echo "error: CPython 3.10 not found (Rasa 3.6 needs Python 3.10)." >&2; \
	  echo "       Install it, e.g. 'pyenv install 3.10.13', or put python3.10 on PATH." >&2; exit 1; fi
	@[ -x $(BIN)/python ] || { echo "creating $(VENV) with $(PYTHON310)"; "$(PYTHON310)" -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e .
	@touch $@

$(STAMP_DEV): $(STAMP_INSTALL) pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

train: $(STAMP_MODEL)

# `kefu train`: data/ plus what supervisors labelled in 待学习, behind the
# quality gate; the model registry (in the desk database) records which model
# is live, and only models it no longer names are deleted. Exit 3: the gate
# rejected the new model and the live one stays (the reason is printed).
$(STAMP_MODEL): $(MODEL_INPUTS) $(STAMP_INSTALL)
	@mkdir -p models
	$(BIN)/kefu train || [ $$? = 3 ]
	@touch $@

run: $(STAMP_MODEL)
	$(BIN)/kefu run

# Debian packages the project needs, installed once as root or through sudo:
# the desk's browser tests drive Debian's chromium (Playwright never downloads
# a browser here) with a Chinese font for the screenshots in docs/; the scaled
# profile's load balancer is Debian's nginx.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
NGINX := /usr/sbin/nginx

define apt_install
	@echo "installing Debian's $(1)"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "error: Kefu needs Debian's $(1): run 'apt-get install $(1)' as root" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null
endef

$(CHROMIUM) $(CJK_FONT):
	$(call apt_install,chromium fonts-wqy-microhei)

$(NGINX):
	$(call apt_install,nginx)

# The scaled profile (docs/deploy.md): 2 Rasa + 2 action servers on
# PostgreSQL + Redis behind nginx on KEFU_PUBLIC_PORT (8080). The URLs below
# are this machine's local services; set them to use others.
run-scaled: $(STAMP_MODEL) $(NGINX)
	KEFU_DATABASE_URL=$${KEFU_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/kefu} \
	KEFU_TRACKER_URL=$${KEFU_TRACKER_URL:-postgresql://postgres@127.0.0.1:5432/kefu_tracker} \
	KEFU_REDIS_URL=$${KEFU_REDIS_URL:-redis://127.0.0.1:6379/0} \
	KEFU_AMQP_URL=$${KEFU_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/} \
	$(BIN)/kefu run --scaled

# Tools that check deploy/ (kubernetes-validate needs jsonschema >= 4.23,
# Rasa pins 3.2), in their own venv.
TOOLS := .venv-tools
$(TOOLS)/.installed:
	@[ -x $(TOOLS)/bin/python ] || "$(PYTHON310)" -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet kubernetes-validate==1.37.0
	@touch $@

# Style, types, the dependency rules between our packages, and the training
# data (checked against the domain and config; no model needed).
lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/rasa data validate --config bot/config.yml --domain bot/domain.yml --data data

# Lint first: a tree that fails it is not worth the suite's time.
test: $(STAMP_DEV) $(STAMP_MODEL) $(CHROMIUM) $(CJK_FONT) $(NGINX) $(TOOLS)/.installed
	@$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -ra

# The fast tier: no trained model, stack, browser, PostgreSQL, Redis or nginx
# (tests marked e2e are left out; see tests/conftest.py).
test-fast: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -m "not e2e"

# The desk's screenshots in docs/, refreshed on purpose (the browser tests
# write theirs to a temporary folder).
screenshots: $(STAMP_DEV) $(STAMP_MODEL) $(CHROMIUM) $(CJK_FONT)
	KEFU_SCREENSHOT_DIR=$(CURDIR)/docs $(BIN)/python -m pytest -q $(wildcard tests/test_*browser.py)

# Caches, and the models the model registry no longer names (never the live
# model or a rollback target; var/ holds customers' data and is left alone).
clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
	@if [ -x $(BIN)/kefu ]; then $(BIN)/kefu models prune; fi
