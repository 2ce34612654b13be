# The README's commands. Every target installs what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMBEDDED := $(PY) -m saas_platform.embedded --
export WEB_PORT ?= 8000
export MX_PORT ?= 2525

.PHONY: run test test-fast lint format bench-orgs bench-fanout bench-members bench-links bench-groups install clean-var

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# Without OUTBOUND_SMTP_URL, a local catcher keeps every outbound mail under var/mail/.
RUN_PROCESSES := web worker scheduler mx ready $(if $(OUTBOUND_SMTP_URL),,catcher)

run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(EMBEDDED) sh -c '$(PY) manage.py platform_prepare --demo && exec $(VENV)/bin/honcho --no-prefix start -f Procfile $(RUN_PROCESSES)'

test: $(STAMP)
	@$(PY) -m tests.browser_setup || true
	PLATFORM_TESTING=1 $(EMBEDDED) $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench-orgs: $(STAMP)
	DEBUG=1 $(EMBEDDED) $(PY) bench/organization_create.py $(BENCH_ARGS)

# Postfix's smtp-sink/smtp-source (Debian package postfix) as the relay; no postfix daemon is left running.
bench-members: $(STAMP)
	PLATFORM_TESTING=1 $(EMBEDDED) $(PY) bench/members_page.py $(BENCH_ARGS)

# Moving 1,000 members, the owner's dashboard at 200 lists / 50,000 members, a 2,000-member rollover.
bench-groups: $(STAMP)
	PLATFORM_TESTING=1 $(EMBEDDED) $(PY) bench/groups.py $(BENCH_ARGS)

bench-fanout: $(STAMP)
	@command -v smtp-sink >/dev/null || test -x /usr/sbin/smtp-sink || { \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postfix && \
	  { postfix status >/dev/null 2>&1 && postfix stop || true; }; }
	PLATFORM_TESTING=1 $(EMBEDDED) $(PY) bench/fanout.py $(BENCH_ARGS)

# wrk (Debian package) against gunicorn on loopback: the read-confirmation and survey links and their POSTs.
bench-links: $(STAMP)
	@command -v wrk >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk; }
	PLATFORM_TESTING=1 $(EMBEDDED) $(PY) bench/links.py $(BENCH_ARGS)

clean-var:
	rm -rf var
