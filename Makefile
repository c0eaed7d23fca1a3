# Set-up on a fresh machine is `make run` (serve with demo data) and `make test` (the suite).
VENV    ?= .venv
PY      := $(VENV)/bin/python
FLASK   := $(VENV)/bin/flask --app wsgi
STAMP   := $(VENV)/.installed-$(shell cat setup.cfg setup.py | sha256sum | cut -c1-12)
CATALOG := registry/translations/zh_Hans_CN/LC_MESSAGES/messages

.PHONY: run test bench translations messages e2e clean

$(STAMP): setup.cfg setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

translations: $(STAMP) $(CATALOG).mo

$(CATALOG).mo: $(CATALOG).po
	$(VENV)/bin/pybabel -q compile -d registry/translations

# Re-extract the messages after changing texts, then translate the new entries in the .po.
messages: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o registry/translations/messages.pot --no-location --sort-output .
	$(VENV)/bin/pybabel update -i registry/translations/messages.pot -d registry/translations --no-fuzzy-matching

run: translations
	$(FLASK) db upgrade
	$(FLASK) registry demo-data --if-empty
	$(FLASK) registry demo-logins
	@# A task-queue worker beside the server (certificate batches, large imports, the nightly run);
	@# both stop together on Ctrl-C.
	$(FLASK) registry worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(FLASK) run --host 127.0.0.1 --port 5000

test: translations
	$(PY) -m pytest $(PYTEST_ARGS)

e2e: translations
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

bench: translations
	$(PY) -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
