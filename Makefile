# plastic — set-up, runs and checks. `make run` and `make test` each work alone on a fresh clone.
PYTHON ?= python3
EXPERIMENT ?= bars_oja
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

MNIST  ?=
.PHONY: install run smoke test test-slow test-full test-slurm test-gpu bench docs lint clean

install: $(STAMP)

# Re-install only when the package's metadata changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV)
	@echo "setting up $(VENV) (a minute, once)"
	@$(BIN)/python -m pip install --quiet --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet --quiet -e '.[dev]'
	@touch $(STAMP)

run: install  ## the default experiment: the ANNarchy tutorial's Oja network learns the bars
	@$(BIN)/plastic run experiment=$(EXPERIMENT) $(ARGS)

smoke: install  ## every smoke recipe through the real console script
	@set -e; for recipe in experiments/smoke/*.yaml; do \
		name=$$(basename $$recipe .yaml); \
		echo "== experiment=smoke/$$name"; \
		$(BIN)/plastic run experiment=smoke/$$name $(ARGS); \
	done

test: install  ## the suite, a test a core at a time (pytest-xdist), minutes on 2 cores
	$(BIN)/python -m pytest -m "not slow and not full and not slurm" -n auto --dist load $(PYTEST_ARGS)

test-slow: install  ## the slow tier: the GPU kernel under numba's CUDA simulator, a built wheel
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-full: install  ## the full-MNIST tier, at reduced sizes: make test-full MNIST=mnist.npz
	PLASTIC_MNIST_FILE=$(MNIST) $(BIN)/python -m pytest -m full $(PYTEST_ARGS)

test-slurm: install  ## sweeps on a real one-node SLURM with accounting (root: installs Debian's slurm)
	$(BIN)/python -m pytest -m slurm $(PYTEST_ARGS)

test-gpu: install  ## only the GPU tests (they skip where there is no GPU)
	$(BIN)/python -m pytest -m gpu $(PYTEST_ARGS)

bench: install  ## speed against the reference loops, into docs/benchmarks.md (MNIST=FILE: full-MNIST sections)
	PLASTIC_MNIST_FILE=$(MNIST) $(BIN)/python -m benchmarks.run $(ARGS)

docs: install  ## the manual (MkDocs Material) into site/; --strict: a broken link fails
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict --quiet
	@echo "the manual: site/index.html"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) outputs multirun dist build site .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
