# The book's two commands (see README): `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Notebooks of the book, read from _toc.yml; override with NB=book/x.ipynb for one chapter.
NB ?= $(shell [ -x $(BIN)/python ] && $(BIN)/python tests/toc.py)
# nbval runs notebooks in parallel on both cores, one notebook per worker.
NBVAL_WORKERS ?= 2

.PHONY: venv book book-strict test unit nbval nbval-forced browser pdf execute sweep sweep-oq lab clean

# A second numerical configuration for nbval: an older OpenBLAS kernel and ATen vector width
# than this machine's native ones, one thread instead of two (tests/kernels.py picks them).
# Stored outputs must not depend on any of them.
FORCED_KERNEL ?= $(shell [ -x $(BIN)/python ] && $(BIN)/python tests/kernels.py --forced)

venv: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

## Build the HTML book into _build/html (from the stored notebook outputs).
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open the book: file://$(CURDIR)/_build/html/index.html"

## The same build from scratch (every page re-read), warnings as errors: what CI publishes.
book-strict: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going

## Every test: samlib unit tests, the ledger and notebook guards, nbval on every notebook
## (native kernels, then the forced configuration), then the rendered book in headless Chromium.
test: $(STAMP)
	$(MAKE) unit
	$(MAKE) nbval
	$(MAKE) nbval-forced
	$(MAKE) browser

unit: $(STAMP)
	$(BIN)/python -m pytest tests samlib --doctest-modules -q -n 2 --ignore=tests/browser

nbval: $(STAMP)
	@nbs="$$($(BIN)/python tests/toc.py)"; \
	if [ -z "$(NB)$$nbs" ]; then echo "no notebooks in _toc.yml yet"; exit 0; fi; \
	$(BIN)/python -m pytest -q -p no:randomly --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -n $(NBVAL_WORKERS) --dist loadscope $(or $(NB),$$nbs)

## nbval again under FORCED_KERNEL (prints which kernels it ran on).
nbval-forced: $(STAMP)
	env $(FORCED_KERNEL) $(BIN)/python tests/kernels.py
	env $(FORCED_KERNEL) $(MAKE) nbval

## Build the book, serve it on 127.0.0.1 and check every page of _toc.yml in headless Chromium
## (Debian's chromium + chromium-driver; skipped with a message if missing). Screenshots: _build/screenshots/.
browser: pdf
	$(BIN)/python -m pytest tests/browser -q -rs -p no:randomly

## The whole book as one PDF, figures included: every page printed by Debian's headless Chromium
## (offline) and joined with pdfunite (poppler-utils) into _build/html/sam-verified.pdf, which
## the landing page links.
pdf: book
	$(BIN)/python tools/book_pdf.py

## Re-execute notebooks in place and store fresh outputs (all, or NB=book/x.ipynb).
execute: $(STAMP)
	@for nb in $(NB); do \
	  echo "executing $$nb"; \
	  t0=$$(date +%s); \
	  SAMLIB_LEDGER_RECORD=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=1200 --ExecutePreprocessor.kernel_name=python3 "$$nb" || exit 1; \
	  echo "$$nb: executed in $$(( $$(date +%s) - t0 )) s"; \
	done
	$(BIN)/python -m samlib.ledger

## Run the experiments' protocol (samlib/studies/mnist_protocol.py) on all cores, on real MNIST and
## on the digits, storing one record per run in book/data/experiments/{mnist5k,digits}; resumes
## where it stopped. SWEEP_ARGS="--backend dask --scheduler tcp://host:8786" runs it on a Dask cluster.
sweep: $(STAMP)
	$(BIN)/python -m samlib.studies.mnist_protocol --dataset mnist5k $(SWEEP_ARGS)
	$(BIN)/python -m samlib.studies.mnist_protocol --dataset digits $(SWEEP_ARGS)
	$(MAKE) sweep-oq

## Part II's recorded sweeps (each resumes; the MNIST protocol's records must exist first).
sweep-oq: $(STAMP)
	$(BIN)/python -m samlib.studies.oq_objective book/data/open_questions/ascent_steps
	$(BIN)/python -m samlib.studies.oq_correlation
	$(BIN)/python -m samlib.studies.oq_jacobian
	$(BIN)/python -m samlib.studies.oq_variants
	$(BIN)/python -m samlib.studies.oq_sgd_adam

## Open the notebooks in JupyterLab with the book's environment.
lab: $(STAMP)
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build
