# The two commands of the README: `make demo` (set up, run a real job) and `make test`.
SHELL := /bin/bash
VENV := .venv/bin

.PHONY: up down status demo test lint contracts openapi bench infra

infra:            ## install and start Docker, RabbitMQ, NATS, the stand-ins, the sandbox image
	scripts/stack.sh infra

up:               ## infra + every service as its own process (gateway on :8080)
	scripts/stack.sh up

down:             ## stop the services and stand-ins `up` started
	scripts/stack.sh down

status:
	scripts/stack.sh status

demo: up          ## bring everything up and run a real script job end to end
	$(VENV)/python scripts/demo.py

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy

contracts:        ## regenerate the committed JSON Schema and AsyncAPI documents
	$(VENV)/jobyard-contracts write
	$(VENV)/python scripts/openapi.py write

test: infra       ## set up, lint, check published contracts, run every test
	$(MAKE) lint
	$(VENV)/jobyard-contracts check
	$(VENV)/python scripts/openapi.py check
	$(VENV)/pytest

# The webhook benchmark's receiver listens on loopback, which a stack refuses unless allowed;
# sandboxes run on runc, like the `docker run` baselines and as the warm pool needs (gVisor's
# runsc cannot change a running sandbox's limits). Services started by an earlier `make up`
# keep their own settings. Results: bench/results/<time>.md and bench/results/latest.md.
BENCH_RESULTS := bench/results/$(shell date -u +%Y%m%d-%H%M%S).md
bench: export JOBYARD_WEBHOOKS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
bench: export JOBYARD_SANDBOX_RUNTIME ?= runc
bench: up         ## side by side: fast starts vs docker run/exec, a 200-job burst, memory, control plane vs Celery, pause/resume, gVisor vs runc, 1 GiB output vs fput_object, live lines vs 500 ms batches, webhooks vs a direct POST
	$(VENV)/python bench/machine.py $(BENCH_RESULTS)
	$(VENV)/python bench/fast_start.py --markdown $(BENCH_RESULTS)
	$(VENV)/python bench/control_plane.py --markdown $(BENCH_RESULTS)
	$(VENV)/python bench/burst.py --markdown $(BENCH_RESULTS)
	cp $(BENCH_RESULTS) bench/results/latest.md
	$(VENV)/python bench/sandbox_sessions.py
	$(VENV)/python bench/file_outputs.py
	$(VENV)/python bench/live_latency.py
	$(VENV)/python bench/webhook_latency.py
