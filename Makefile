# Two commands on a fresh clone: `make run` and `make test`. Each builds .venv first if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) run_pipeline.py --upsert --start --wait
	printf '0.0,0.9\n1.0,-0.5\n2.0,0.4\n' | $(PY) run_pipeline.py --invoke moonpipe-endpoint --data -

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -q -n auto

# The edit-test loop: no fresh CLI processes running the pipeline, no browser (about a minute).
test-fast: $(STAMP)
	$(PY) -m pytest -q -n auto -m "not e2e and not browser"

bench: $(STAMP)
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_definition.py
	$(PY) benchmarks/bench_job_start.py
	$(PY) benchmarks/bench_local_run.py
	$(PY) benchmarks/bench_endpoint.py
	$(PY) benchmarks/bench_sweep.py 3
	$(PY) benchmarks/bench_speed.py 3
	test -d .moonpipe || $(MAKE) run
	$(PY) benchmarks/bench_ui.py .moonpipe 5
	$(PY) benchmarks/bench_ui_live.py .moonpipe 5

clean:
	rm -rf $(VENV) .moonpipe .moonpipe-build .pytest_cache .ruff_cache
