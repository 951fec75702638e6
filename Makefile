# Two commands do everything on a fresh machine:
#   make run   - set up .venv, build/refresh the index from seeds/, start the web chat
#   make test  - set up .venv and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

.PHONY: venv run test build bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	cp requirements.txt $(STAMP)

venv: $(STAMP)

build: venv
	$(BIN)/python -m qa build

run: build
	$(BIN)/python app.py

test: venv
	$(BIN)/python -m pytest -q tests

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
