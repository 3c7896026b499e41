# `make run` and `make test` are all a newcomer needs; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test chromium lock clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/nowbot run

test: install chromium
	$(BIN)/python -m pytest

# The dashboard's browser tests drive Debian's Chromium through Playwright (which downloads no
# browser here); installed once, quietly, where apt can (root). Without it those tests skip.
chromium:
	@command -v chromium >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq chromium >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; } || \
		echo "chromium could not be installed (apt-get install chromium needs root): browser tests will skip"; }

# The Docker image installs exactly these versions, checked by hash (x86_64 Linux, Python 3.11).
lock: install
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) var *.egg-info
