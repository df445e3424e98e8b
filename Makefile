# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

.PHONY: setup run test bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: setup
	$(VENV)/bin/loom run

test: setup
	@eval "$$(scripts/services.sh start)" && LOOM_REQUIRE_SERVICES=1 $(PY) -m pytest -n $(JOBS) -q -p no:cacheprovider

bench: setup
	@eval "$$(scripts/services.sh start)" && for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	scripts/services.sh stop
	rm -rf $(VENV) instance .pytest_cache
