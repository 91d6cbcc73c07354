# The book's two commands:   make book   (install, build the HTML)   and   make test   (install, run every test).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install book test unit lab-test notebooks site lab lab-sources mutate clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -r requirements.txt
	touch $(STAMP)

install: $(STAMP)

book: install                       ## execute every chapter and build _build/html (any warning fails)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is in _build/html/index.html"

unit: install                       ## unit tests of the rnnbook package
	$(BIN)/python -m pytest tests --ignore=tests/site --ignore=tests/lab

lab-test: install                   ## chapters 1 and 5 in JupyterLab, driven in Chromium (run after `unit`)
	$(BIN)/python -m pytest tests/lab

notebooks: install                  ## every notebook, top to bottom in a fresh kernel, under nbval
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env book/

site: install                       ## checks of the built HTML (run after `make book`)
	$(BIN)/python -m pytest tests/site

test: unit lab-test notebooks book site  ## everything CI runs

lab-sources:                        ## after editing a chapter: write its MyST in the form both JupyterLab and Sphinx resolve
	python3 tools/lab_convert.py .

# Mutation testing (not part of `make test`): the modules the book teaches, and the metrics and decoders of apps.
MUTANTS ?= rnnbook.sampling.* rnnbook.scratch.* rnnbook.data.* rnnbook.training.* rnnbook.checkpoint.* \
	rnnbook.jsmodel.* $(foreach f,f1_score bag_of_chars edit_distance char_error_rate perplexity ctc_collapse \
	ctc_probability ctc_greedy_decode threshold_decode bio_tags entity_spans entity_scores,rnnbook.apps.x_$(f)__mutmut_*) rnnbook.apps.xǁCharNGramǁ*
mutate: install                     ## mutation testing: mutants/ holds the run; survivors must be killed or listed in tests/MUTANTS.md
	OMP_NUM_THREADS=1 nice -n 10 $(BIN)/mutmut run --max-children $${JOBS:-2} $(foreach g,$(MUTANTS),'$(g)') | tail -n 3
	$(BIN)/python tests/mutation_report.py $(foreach g,$(MUTANTS),'$(g)')

lab: install                        ## open the chapters in JupyterLab (MyST rendered by jupyterlab-myst)
	$(BIN)/jupyter lab book/

clean:
	rm -rf _build mutants
