# kuaidan: `make demo` runs the platform on its embedded default; `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint fmt env browser clean serve worker

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,demo,bench]'
	touch $(STAMP)

env: $(STAMP)

demo: env
	$(BIN)/kuaidan demo

serve: env
	$(BIN)/kuaidan serve

worker: env
	$(BIN)/kuaidan worker

browser:
	@bash scripts/ensure-browser.sh

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy kuaidan tests
	$(BIN)/lint-imports

test: env browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

fmt: env
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
