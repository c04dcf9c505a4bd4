# The two commands a new user runs: `make demo` (set up, then colorize the sample photos)
# and `make test` (set up with the test tools, then run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean browser

demo: $(VENV)/.installed
	$(BIN)/bwcolor colorize docs/samples -o outputs/samples

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

# The browser tests of `bwcolor edit` drive Debian's chromium (no browser is downloaded at run
# time); installed here when missing and possible (root with apt), else those tests are skipped.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q --no-install-recommends chromium >/dev/null || \
		{ apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; } || \
		echo "note: chromium could not be installed: the browser tests will be skipped"; \
	else echo "note: no chromium (apt install chromium): the browser tests will be skipped"; fi; }

lint: $(VENV)/.installed-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) outputs
