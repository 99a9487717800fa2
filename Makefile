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

.PHONY: demo test install install-test browser clean-venv lint

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)

$(VENV)/.core: $(VENV)/bin/python
	$(PIP) --upgrade pip setuptools wheel
	$(PIP) torch==2.13.0 torchvision==0.28.0
	# sam2 ships as an sdist that imports torch at build time; build it against the pinned
	# torch, without the optional CUDA extension (used only for hole filling on GPU).
	SAM2_BUILD_CUDA=0 $(PIP) --no-build-isolation sam2==1.1.0
	touch $@

$(VENV)/.installed: $(VENV)/.core pyproject.toml
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
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

test: install-test
	$(VPY) -m pytest -m "not gpu" $(PYTEST_ARGS)

lint:
	$(VENV)/bin/nbstripout --verify notebooks/*.ipynb

clean-venv:
	rm -rf $(VENV)
