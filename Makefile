# Everything runs from the project venv; `make setup` builds it (idempotent).
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 7860

.DEFAULT_GOAL := help
.PHONY: help setup run test lint format train bench-accuracy bench-speed

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.setup-stamp: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.setup-stamp ## create .venv and install the project with all extras

run: setup ## serve the built-in model on http://$(HOST):$(PORT) (HOST, PORT override)
	NER_HOST=$(HOST) NER_PORT=$(PORT) $(PY) -m ner_inference.server

lint: setup ## ruff and mypy (strict)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: lint ## lint, then the whole test suite (real servers on loopback)
	$(VENV)/bin/pytest

EMBEDDINGS := runs/builtin/embeddings.npz
SILVER     := runs/silver/people-daily.txt

# The shipped model is a student: MSRA train plus People's Daily sentences tagged by two teachers
# (docs/model.md). `make -j2 train` trains the teachers side by side; about 3 h on 2 cores.
train: setup $(EMBEDDINGS) $(SILVER) ## train the built-in model (teachers, silver text, student; resumable)
	$(PY) -m ner_inference.builtin.train --run-dir runs/builtin --embeddings $(EMBEDDINGS) --join-lists --silver $(SILVER) --epochs 11

runs/teachers/lists.pt: | setup $(EMBEDDINGS)
	$(PY) -m ner_inference.builtin.train --run-dir runs/teacher-lists --export $@ --embeddings $(EMBEDDINGS) --join-lists --threads 1 --quiet

runs/teachers/words-all.pt: | setup $(EMBEDDINGS)
	$(PY) -m ner_inference.builtin.train --run-dir runs/teacher-words --export $@ --embeddings $(EMBEDDINGS) --max-words 150000 --epochs 20 --dev-fraction 0 --threads 1 --quiet

$(SILVER): runs/teachers/lists.pt runs/teachers/words-all.pt
	$(PY) -m ner_inference.builtin.distill --text people-daily $(addprefix --teacher ,$^) --out $@ --sentences 200000

# Skip-gram character, bigram and word vectors from unlabeled news (~13 min on 2 cores).
$(EMBEDDINGS): | setup
	$(PY) -m ner_inference.builtin.pretrain --out $@

bench-accuracy: setup ## F1 of the shipped weights on MSRA test -> bench/results/accuracy.json
	$(PY) bench/accuracy.py

bench-speed: setup ## model sentences/s at batch 1 and 32, load time -> bench/results/model_speed.json
	$(PY) bench/model_speed.py

.PHONY: bench-names
bench-names: setup ## F1 on held-out lists of names, as written and run together -> bench/results/name_lists.json
	$(PY) bench/name_lists.py

.PHONY: drill
drill: setup ## disaster drill: lose region A under load (SIGKILL x5, SIGTERM, rolling, SIGSTOP) -> bench/results/drill.json, docs/drill.md
	@# Every variant runs and lands in the report; the target fails if any request was lost.
	@status=0; \
	$(PY) -m bench.drill --runs 5 || status=1; \
	$(PY) -m bench.drill --kill sigterm --runs 2 || status=1; \
	$(PY) -m bench.drill --rolling --runs 2 || status=1; \
	$(PY) -m bench.drill --kill sigstop --runs 2 || status=1; \
	exit $$status

.PHONY: bench-serve
bench-serve: setup ## HTTP server under wrk: req/s, p50/p99 at c=50, batch-32 sent/s -> bench/results/serve.json
	$(PY) bench/serve.py

.PHONY: bench-failover
bench-failover: setup ## operator failover: detect_s, failover_s (median of 5), failovers_during_flap -> bench/results/failover.json
	$(PY) bench/failover.py

.PHONY: chart-sync
chart-sync: ## copy crds/nerclusters.yaml into the Helm chart and config/crd (byte-identical copies)
	cp crds/nerclusters.yaml charts/ner-operator/crds/nerclusters.yaml
	cp crds/nerclusters.yaml config/crd/nerclusters.yaml
	cp charts/ner-operator/crds/kopfpeerings.yaml config/crd/kopfpeerings.yaml

.PHONY: install-check
install-check: setup ## chart (helm lint/render), kustomize, examples, RBAC, Argo CD health, Dockerfile tests
	$(VENV)/bin/pytest tests/install

.PHONY: operator
OPERATOR_ARGS ?= --all-namespaces --standalone
operator: setup ## run the operator against the current kubeconfig (OPERATOR_ARGS, default: --all-namespaces --standalone)
	$(PY) -m ner_operator $(OPERATOR_ARGS)

.PHONY: bench-operator
bench-operator: setup ## operator: NerCluster created -> every object in both regions (median of 7) -> bench/results/operator.json
	$(PY) bench/operator.py

.PHONY: operator-image-check
operator-image-check: ## the operator image's Python env without Docker: Dockerfile's pip list in a temp venv, only operator/ on the path
	rm -rf $(CURDIR)/.operator-image-venv
	$(PYTHON) -m venv $(CURDIR)/.operator-image-venv
	$(CURDIR)/.operator-image-venv/bin/pip install -q $$(sed -n '/pip install/,/^COPY/p' operator/Dockerfile | grep -o '"[^"]*"' | tr -d '"')
	cd /tmp && PYTHONPATH=$(CURDIR)/operator $(CURDIR)/.operator-image-venv/bin/python -c \
	  "import sys, ner_operator.handlers; bad = {'torch', 'ner_inference'} & set(sys.modules); assert not bad, bad"
	cd /tmp && PYTHONPATH=$(CURDIR)/operator $(CURDIR)/.operator-image-venv/bin/python -m ner_operator --help
	rm -rf $(CURDIR)/.operator-image-venv
