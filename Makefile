# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2

.PHONY: setup run test bench clean translations

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

run: setup
	$(VENV)/bin/loom run

test: setup
	@eval "$$(scripts/services.sh start)" && LOOM_REQUIRE_SERVICES=1 $(PY) -m pytest -n $(JOBS) -q -p no:cacheprovider

bench: setup
	@eval "$$(scripts/services.sh start)" && for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# Extract t("...")/tc(ctx, "...")/N_("...") strings (babel.cfg; designer/translations/babel.cfg), merge
# them into the runtime's and the designer's catalogs, compile both; the .mo files are committed.
translations: setup
	$(VENV)/bin/pybabel extract -F babel.cfg --no-default-keywords -k t -k N_ -k tc:1c,2 --project Loom \
		--copyright-holder Loom -o runtime/web/translations/messages.pot .
	$(VENV)/bin/pybabel update -i runtime/web/translations/messages.pot -d runtime/web/translations --ignore-obsolete
	$(VENV)/bin/pybabel extract -F designer/translations/babel.cfg --no-default-keywords -k t -k N_ --project Loom \
		--copyright-holder Loom -o designer/translations/messages.pot .
	$(VENV)/bin/pybabel update -i designer/translations/messages.pot -d designer/translations --ignore-obsolete
	@for cfg in plugins/*/translations/babel.cfg; do d=$$(dirname $$cfg); \
		$(VENV)/bin/pybabel extract -F $$cfg --no-default-keywords -k t -k N_ --project Loom \
			--copyright-holder Loom -o $$d/messages.pot . && \
		if [ -d $$d/ru ]; then $(VENV)/bin/pybabel update -i $$d/messages.pot -d $$d --ignore-obsolete; \
		else $(VENV)/bin/pybabel init -i $$d/messages.pot -d $$d -l ru; fi || exit 1; \
	done
	@for d in runtime/web/translations designer/translations plugins/*/translations; do \
		if ls $$d/*/LC_MESSAGES/*.po >/dev/null 2>&1; then $(VENV)/bin/pybabel compile -d $$d --statistics || exit 1; fi; \
	done

clean:
	scripts/services.sh stop
	rm -rf $(VENV) instance .pytest_cache
