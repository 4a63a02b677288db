# Everything a fresh clone needs: `make serve` and `make test` build .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-fast validate build summary fmt check-fmt clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

serve: $(STAMP)
	$(BIN)/autokg validate
	$(BIN)/autokg build
	$(BIN)/autokg summary
	$(BIN)/autokg serve

# every test (CI runs this); test-fast leaves out the tests marked live (servers, engines) and slow (over ~5 s)
test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not live"

validate: $(STAMP)
	$(BIN)/autokg validate

build: $(STAMP)
	$(BIN)/autokg build

summary: $(STAMP)
	$(BIN)/autokg summary

fmt: $(STAMP)
	$(BIN)/autokg fmt

check-fmt: $(STAMP)
	$(BIN)/autokg fmt --check

clean:
	rm -rf $(VENV) dist build .pytest_cache
