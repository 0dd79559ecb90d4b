# Two commands on a fresh machine (Python 3.10+ with venv and a C++ compiler):
#   make demo       train the demo notebook end to end and print its mIoU
#   make test       run the test suite (CI runs this): the whole suite on this Python, with the
#                   Kaggle-image rehearsal, then the fast tests and one notebook run on every
#                   other Python 3.10-3.13 this machine has
#   make test-fast  the fast tests, tests/unit (no training, no notebooks; see tests/conftest.py)
# Both bootstrap the task runner (nox and uv, pinned with hashes in requirements-nox.txt) into
# .tools/ and hand over to the nox session of the same name (see noxfile.py, docs/setup.md).
# ARGS go to the session (pytest's for test): make test ARGS="tests/unit -q"
PYTHON ?= python3
NOX := .tools/bin/nox

.PHONY: demo test test-fast lint sync notebooks lock bench clean

$(NOX): requirements-nox.txt
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet --require-hashes -r requirements-nox.txt
	@touch $(NOX)

demo: $(NOX)
	$(NOX) -s demo$(if $(ARGS), -- $(ARGS))

test: $(NOX)
	$(NOX) -s tests$(if $(ARGS), -- $(ARGS))
	$(if $(ARGS),,$(NOX) -s tests_python)

test-fast: $(NOX)
	$(NOX) -s tests -- -q -m "not slow" $(ARGS)

lint: $(NOX)
	$(NOX) -s lint$(if $(ARGS), -- $(ARGS))

sync: $(NOX)
	$(NOX) -s sync$(if $(ARGS), -- $(ARGS))

notebooks: $(NOX)
	$(NOX) -s notebooks$(if $(ARGS), -- $(ARGS))

bench: $(NOX)
	$(NOX) -s bench$(if $(ARGS), -- $(ARGS))

lock: $(NOX)
	$(NOX) -s lock$(if $(ARGS), -- $(ARGS))

clean:
	rm -rf .tools .nox runs build
