# SAM2 Workbench — two entry points: `make demo` and `make test`.
# Everything the project needs is installed here into .venv/ (nothing by hand).
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
# The CUDA build of torch from PyPI is the only one whose torchvision operators load
# (it runs on CPU too). Local find-links / pip config may offer a "+cpu" torch that shadows
# it, so installs ignore the machine's pip configuration (PIP_CERT is kept).
PIPENV := PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_DISABLE_PIP_VERSION_CHECK=1
PIP := $(PIPENV) $(VPY) -m pip install --progress-bar off -q
# Evaluation data beside the checkout when present; without it the demo uses packaged samples.
ifneq ($(wildcard ../shared/data),)
export WORKBENCH_DATA_DIR ?= $(abspath ../shared/data)
endif

.PHONY: demo test install install-test browser clean-venv lint check

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

# Pins live in pyproject.toml alone; these read them (`"torch==X"` -> X).
pin = $(shell sed -n 's/^ *"$(1)==\([^"]*\)".*/\1/p' pyproject.toml | head -n1)
TORCH_PIN := $(call pin,torch)
TORCHVISION_PIN := $(call pin,torchvision)
SAM2_PIN := $(call pin,sam2)
# The stamp names carry the pins: changing a pin in pyproject.toml makes a new stamp, so the
# core packages are reinstalled at the new versions (and `pip install -e .` re-runs whenever
# pyproject.toml changes, which reinstalls any other pin that changed).
CORE := $(VENV)/.core-torch$(TORCH_PIN)-tv$(TORCHVISION_PIN)-sam2$(SAM2_PIN)

$(CORE): $(VENV)/bin/python
	@test -n "$(TORCH_PIN)" -a -n "$(TORCHVISION_PIN)" -a -n "$(SAM2_PIN)" || \
	  { echo "pyproject.toml must pin torch, torchvision and sam2 exactly (==)"; exit 1; }
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) torch==$(TORCH_PIN) torchvision==$(TORCHVISION_PIN)
	# sam2 ships as an sdist that imports torch at build time; build it against the pinned
	# torch, without the optional CUDA extension (used only for hole filling on GPU).
	SAM2_BUILD_CUDA=0 $(PIP) --no-build-isolation sam2==$(SAM2_PIN)
	rm -f $(VENV)/.core-*
	touch $@

$(VENV)/.installed: $(CORE) pyproject.toml
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) -e '.[test]'
	touch $@

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@chromium --version

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test browser

demo: install
	$(VENV)/bin/workbench report --suite demo

test: install-test check
	$(VPY) -m pytest -m "not gpu" $(PYTEST_ARGS)

# Static checks run by `make test` (and so by CI): lint, format, types, import contracts
# (the layers of README "Layout"), notebooks committed without outputs.
check: install-test
	$(VENV)/bin/ruff check workbench tests benchmarks
	$(VENV)/bin/ruff format --check workbench tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo --no-cache
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb

lint: check

clean-venv:
	rm -rf $(VENV)
