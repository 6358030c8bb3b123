# Two commands set up everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install jail browser demo test bench clean

install: $(STAMP) jail

# The kernels' jail: bubblewrap, and as root the unprivileged user jails run as (scripts/setup-jail).
# The tests also grade as an ordinary user, lstm-grader-tester, made here.
jail: $(STAMP)
	sh scripts/setup-jail $(PY) lstm-grader-tester

# The report tests open the HTML in a real headless Chromium: Debian's package, where missing.
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,course]"
	touch $(STAMP)

# Grades the shipped notebooks: both solutions must score full marks (exit 0) and the
# untouched student notebook must score 0 without crashing (exit 1); a solution of each other
# exercise (full marks); every spec is valid; then the LSTM notebooks as a class, into
# build/demo-class (open build/demo-class/index.html), and what in it waits for a review (then
# `grade review build/demo-class` opens the review page).
demo: install
	$(VENV)/bin/grade solutions/lstm_network/reference_keras2.ipynb
	$(VENV)/bin/grade solutions/lstm_network/idiomatic_keras3.ipynb
	$(VENV)/bin/grade exercises/lstm_network/lstm_network.zh.ipynb; test $$? -eq 1
	$(VENV)/bin/grade solutions/gru_text/idiomatic_keras3.ipynb --exercise gru_text
	$(VENV)/bin/grade solutions/cnn_image/idiomatic_keras3.ipynb --exercise cnn_image
	$(VENV)/bin/grade check-spec lstm_network gru_text cnn_image
	$(VENV)/bin/grade solutions/lstm_network/*.ipynb exercises/lstm_network/*.ipynb -o build/demo-class
	$(VENV)/bin/grade queue build/demo-class

# Two workers, a test module to each at a time (module fixtures grade their corpus once): about
# 10 minutes on 2 cores instead of 17, most tests waiting on kernels.
test: install browser
	$(PY) -m pytest -q -n 2 --dist loadfile

# Speed and memory, measured in one run on one generated class; prints a table (about 7 minutes).
bench: install
	$(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) build *.egg-info
