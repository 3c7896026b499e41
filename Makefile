# `make run` and `make test` are all a newcomer needs; both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lock clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/nowbot run

test: install
	$(BIN)/python -m pytest

# The Docker image installs exactly these versions, checked by hash (x86_64 Linux, Python 3.11).
lock: install
	$(BIN)/uv pip compile pyproject.toml --quiet --generate-hashes --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 --custom-compile-command "make lock" -o requirements.lock

clean:
	rm -rf $(VENV) var *.egg-info
