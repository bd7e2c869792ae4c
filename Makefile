# rollbook — the README's commands are the contract: `make demo` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
DEBS := postgresql redis-server nginx-light curl git openssh-server chromium python3-venv sudo

# `make test`'s workers, each with a sandbox instance of its own: one per core, at most 4 (the
# suite keeps every core busy; one more worker made it no faster and overloaded the machine past
# the sandbox's §8.2 load threshold: docs/PERFORMANCE.md)
WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n > 4 ? 4 : n )))

.PHONY: setup debs venv demo test check unit lint sandbox-up sandbox-down sandbox-reset clean

setup: debs venv

# Debian packages of the sandbox's servers: installed when root, else the exact command is shown.
debs:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v psql >/dev/null || missing="$$missing postgresql"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v git >/dev/null || missing="$$missing git"; \
	command -v sudo >/dev/null || missing="$$missing sudo"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	/usr/bin/python3 -c "import ensurepip" 2>/dev/null || missing="$$missing python3-venv"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "setup: installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBS) >/dev/null; \
	  else \
	    echo "setup: missing Debian packages:$$missing — run: sudo apt-get install -y $(DEBS)"; exit 1; \
	  fi; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@echo "setup: installing rollbook and its dependencies into $(VENV)"
	@$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

sandbox-up: setup
	$(BIN)/rollbook sandbox up

sandbox-down:
	$(BIN)/rollbook sandbox down

sandbox-reset: setup
	$(BIN)/rollbook sandbox reset

# The rollback of the sandbox: brought to its start state (defective deploy), then rolled back.
# The rollback with four eyes: the operator's dry-run, the Tech Lead's signed approval of that
# plan, the run with it and the operator's own key (rollbook/sandbox/demo.py)
demo: setup
	$(BIN)/rollbook sandbox up
	$(BIN)/rollbook sandbox reset
	$(BIN)/rollbook sandbox demo

unit: setup
	$(BIN)/pytest tests/unit -q

# The inner loop: lint and the unit tests, no sandbox (under 3 minutes).
check: setup lint
	$(BIN)/pytest tests/unit -q -n $(WORKERS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Everything: unit, integration and e2e, on $(WORKERS) sandbox instances side by side.
test: setup lint
	$(BIN)/pytest tests -q -ra --durations=25 -n $(WORKERS) --dist loadscope --no-loadscope-reorder

clean:
	-$(BIN)/rollbook sandbox down --purge
	rm -rf $(VENV)
