# Two commands on a fresh machine (Python 3.10+ with venv and a C++ compiler):
#   make demo   train the demo notebook end to end and print its mIoU
#   make test   run the test suite
# Both bootstrap the task runner (nox, pinned in requirements-nox.txt) into .tools/ and hand over
# to the nox session of the same name (see noxfile.py).
PYTHON ?= python3
NOX := .tools/bin/nox

.PHONY: demo test lint sync notebooks lock bench clean

$(NOX): requirements-nox.txt
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet -r requirements-nox.txt
	@touch $(NOX)

demo: $(NOX)
	$(NOX) -s demo

test: $(NOX)
	$(NOX) -s tests

lint: $(NOX)
	$(NOX) -s lint

sync: $(NOX)
	$(NOX) -s sync

notebooks: $(NOX)
	$(NOX) -s notebooks

bench: $(NOX)
	$(NOX) -s bench

lock: $(NOX)
	$(NOX) -s lock

clean:
	rm -rf .tools .nox runs build
