# The two commands a new user needs are `make demo` and `make test` (see README.md).
# Everything else here is a convenience for developers.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
QLIB_STAMP := $(VENV)/.qlib-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PYQLIB := pyqlib==0.9.7

.PHONY: setup qlib demo test lint format bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version'
	@ldconfig -p 2>/dev/null | grep -q libseccomp.so.2 || (apt-get update -qq && apt-get install -y -qq libseccomp2) \
		|| echo "WARNING: libseccomp2 is missing: sandbox workers will run without seccomp (see arena doctor)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

setup: $(STAMP)

# Qlib for features() and the research tools, without pyqlib's 1.4 GB of declared
# dependencies (decision 0018): what its code imports comes from our extras.
$(QLIB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,qlib,qlib-research]'
	$(BIN)/python -m pip install --quiet --no-deps '$(PYQLIB)'
	rm -f $(VENV)/.qlib-*
	touch $(QLIB_STAMP)

qlib: $(QLIB_STAMP)

demo: setup
	$(BIN)/arena demo

test: setup qlib
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: setup qlib
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
