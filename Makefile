# Two commands do everything on a fresh machine:
#   make run   - set up .venv, build/refresh the index from seeds/, start the web chat
#   make test  - set up .venv and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-requirements

.PHONY: venv run test build bench bench-quick clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	cp requirements.txt $(STAMP)

# Ray (optional at run time: `build --ray`, `serve`); the tests use it, so `make test` installs it
RAY_STAMP := $(VENV)/.installed-ray
$(RAY_STAMP): requirements-ray.txt $(STAMP)
	$(BIN)/python -m pip install -q -c requirements.txt -r requirements-ray.txt
	cp requirements-ray.txt $(RAY_STAMP)

venv: $(STAMP)

build: venv
	$(BIN)/python -m qa build

run: build
	$(BIN)/python app.py

test: venv $(RAY_STAMP)
	$(BIN)/python -m pytest -q tests

# Benchmarks (figures, never assertions): speed and scale against the floor and peers, quote
# retrieval on SQuAD and on the BBC archive (with txtai beside), building the BBC archive (one
# process, Ray, txtai), the web chat under load, and the BBC archive in shards (one process, Ray Serve). `make bench QUICK=1` (or bench-quick): < 2 min.
# Peers (txtai, Haystack) live in their own venv that sees the app's torch through a .pth file,
# so torch is neither installed twice nor upgraded.
PEERS := benchmarks/.venv-peers
$(PEERS)/.installed: benchmarks/requirements-bench.txt requirements.txt | venv
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(BIN)/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > \
	  "$$($(PEERS)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/app.pth"
	$(PEERS)/bin/python -m pip install -q -c requirements.txt -r benchmarks/requirements-bench.txt
	touch $@

bench: venv $(RAY_STAMP) $(PEERS)/.installed
ifdef QUICK
	nice $(BIN)/python benchmarks/bench.py --quick
else
	nice $(BIN)/python benchmarks/bench.py
	$(BIN)/python benchmarks/squad.py
	$(BIN)/python benchmarks/bbc.py
	$(BIN)/python benchmarks/build.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/load.py --index benchmarks/data/bbc/index --seeds ../shared/corpora/bbc-2005 --questions tests/data/bbc_questions.jsonl
	$(BIN)/python benchmarks/catalog.py
	$(BIN)/python benchmarks/shards.py
endif

bench-quick:
	$(MAKE) bench QUICK=1

clean:
	rm -rf $(VENV) test-artifacts .pytest_cache
