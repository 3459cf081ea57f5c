# movierec — run `make` for the list of targets.
PYTHON    ?= python3
VENV      ?= .venv
BIN       := $(VENV)/bin
# The data folder (TMDB CSVs + ratings/links). Default: the sample shipped in this repository.
DATA_DIR  ?= data/sample
# Where `make reindex` writes index versions and `make serve` reads them.
INDEX_DIR ?= var/index
PORT      ?= 50051
# Where `make serve` exposes Prometheus metrics (/metrics); empty turns them off.
METRICS_ADDRESS ?= 127.0.0.1:9464
# A port for `make serve`'s HTTP/JSON API and page (on 127.0.0.1, beside gRPC); empty: gRPC only.
HTTP_PORT ?=
# The real data the test suite and `make eval` read (never copied into this repository).
REAL_DATA_DIR ?= ../shared/data/seed
# The ratings store of `make serve`, `make serve-replicas` and `make reindex`: sqlite:///<path> or
# postgresql://user:password@host:port/database; empty: SQLite in INDEX_DIR.
STORE_URL ?= $(ENV_STORE_URL)
ENV_STORE_URL := $(MOVIEREC_STORE_URL)
# How many servers `make serve-replicas` starts (on PORT, PORT+1, ...).
N ?= 2

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint eval bench bench-scale reindex serve serve-replicas proto sample-users clean

help: ## Show this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-15s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: DATA_DIR=$(DATA_DIR) INDEX_DIR=$(INDEX_DIR) PORT=$(PORT) METRICS_ADDRESS=$(METRICS_ADDRESS) HTTP_PORT=$(HTTP_PORT) REAL_DATA_DIR=$(REAL_DATA_DIR) STORE_URL=$(STORE_URL) N=$(N)"

# torch is installed first and pinned: that version resolves to the CPU build here, and anything
# installed before it that depends on torch would otherwise pull a CUDA build (gigabytes).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed ## Create .venv and install everything (CPU-only torch)

demo: install ## Build an index, serve it, query it through the CLI, stop (DATA_DIR=... for other data)
	$(BIN)/python -m movierec.clients.demo --data-dir $(DATA_DIR) --index-dir var/demo/$(notdir $(abspath $(DATA_DIR)))

# Two workers: much of the suite waits on server processes starting and being killed, which the
# other worker's compute overlaps; the real-data tests stay together (tests/conftest.py).
test: install lint ## Lint and type-check, then run the whole test suite (real-data tests read REAL_DATA_DIR)
	REAL_DATA_DIR=$(abspath $(REAL_DATA_DIR)) $(BIN)/pytest -n 2 --dist loadgroup

test-fast: install ## Run the tests not marked slow
	REAL_DATA_DIR=$(abspath $(REAL_DATA_DIR)) $(BIN)/pytest -m "not slow"

# mypy and lint-imports find modules by folder, and the subpackages live in folders named after their job
# (pyproject's package-dir): a tree of links under var/typecheck gives them their import names.
lint: install ## ruff check and format --check, mypy over the movierec packages, the layer contracts (lint-imports), the settings reference is current
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	rm -rf var/typecheck/movierec && mkdir -p var/typecheck/movierec
	ln -s $(abspath movierec)/* var/typecheck/movierec/
	for pair in server:server indexer:indexer clients:clients bench:bench evaluation:evaluation v1:proto/movierec/v1; do \
		ln -s $(abspath .)/$${pair#*:} var/typecheck/movierec/$${pair%%:*}; done
	cd var/typecheck && $(abspath $(BIN))/mypy --config-file $(abspath pyproject.toml) -p movierec
	cd var/typecheck && PYTHONPATH=. $(abspath $(BIN))/lint-imports --no-cache $(abspath pyproject.toml)
	$(BIN)/python -m movierec.settings_reference --check

eval: install ## Evaluate rankings on REAL_DATA_DIR (+ ml-latest-small): reports/eval.md, .json, .png
	$(BIN)/movierec eval --data-dir $(REAL_DATA_DIR) --second-ratings $(dir $(REAL_DATA_DIR))ml-latest-small

bench: install ## Benchmark serving and indexing on REAL_DATA_DIR: reports/bench.md, .json, .png (~16 min)
	$(BIN)/movierec-bench --data-dir $(REAL_DATA_DIR) --work-dir var/bench --out reports

bench-scale: install ## Scale runs (not in CI): search at 100k and 1M movies, embedding on Ray, replicas, EASE's size: reports/bench-scale.md, bench-embedding.md, bench-replicas.md, bench-ease.md
	$(BIN)/movierec-index --data-dir $(REAL_DATA_DIR) --index-dir var/bench-scale/index --quiet
	$(BIN)/movierec-bench-scale --index-dir var/bench-scale/index --out reports
	$(BIN)/movierec-bench-embedding --data-dir $(REAL_DATA_DIR) --out reports
	$(BIN)/movierec-bench-replicas --index-dir var/bench-scale/index --out reports
	$(BIN)/movierec-bench-ease --out reports

# The store URL reaches the programs through the environment, not their command line: make echoes
# a recipe, and the URL may hold a password.
reindex serve serve-replicas: export MOVIEREC_STORE_URL = $(STORE_URL)

reindex: install ## Build a new index version: DATA_DIR=... INDEX_DIR=... (reads the ratings in STORE_URL)
	$(BIN)/movierec-index --data-dir $(DATA_DIR) --index-dir $(INDEX_DIR)

serve: install ## Serve INDEX_DIR on 127.0.0.1:PORT, metrics on METRICS_ADDRESS, HTTP API on HTTP_PORT if set (picks up `make reindex`'s versions)
	$(BIN)/movierec-serve --index-dir $(INDEX_DIR) --port $(PORT) --metrics-address "$(METRICS_ADDRESS)" \
		$(if $(HTTP_PORT),--http-port $(HTTP_PORT))

serve-replicas: install ## N servers of INDEX_DIR on PORT, PORT+1, ... sharing the ratings store STORE_URL
	$(BIN)/python -m movierec.server.replicas --replicas $(N) --index-dir $(INDEX_DIR) --port $(PORT) \
		--metrics-address "$(METRICS_ADDRESS)"

proto: install ## Regenerate the checked-in gRPC/protobuf code and type stubs from proto/
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/python -m grpc_tools.protoc -I proto \
		--python_out=proto --grpc_python_out=proto --mypy_out=proto --mypy_grpc_out=proto \
		proto/movierec/v1/recommender.proto

sample-users: install ## Regenerate the sample's synthetic ratings (seeded, reproducible)
	$(BIN)/python -m movierec.indexer.sample_users --movies data/sample/tmdb_5000_movies.csv --out data/sample

clean: ## Remove .venv and built indexes
	rm -rf $(VENV) var build *.egg-info
