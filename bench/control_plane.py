"""Control-plane overhead: what the durable path costs before any sandbox work begins, beside
Celery on the same RabbitMQ, alternating in one invocation.

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/control_plane.py [--runs 30] [--markdown FILE]

Measured, each on this machine's clock:
- Celery:   `apply_async` called -> the task's body starts, on a worker started here (`solo`
            pool, `task_acks_late=True`, persistent messages on a durable queue of the same
            RabbitMQ); the task returns its start time through the `rpc://` backend
- Jobyard:  `POST /v1/jobs` sent -> the host's sandbox-manager took the step's command
            (`sandbox.requested_at`, stored by its handler): the gateway's write, the outbox
            publish with confirms, the scheduler's admission and placement, the agent's plan
            and dispatch, four services and three store writes on the way
Celery keeps no state a crash could not lose (a task is a message); Jobyard stores each change
with its event before publishing it. That difference is what this figure prices.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _connect import bench_client, percentile, write_table
from celery import Celery
from pymongo import MongoClient
from pymongo.collection import Collection

from jobyard_settings import InfraSettings

HERE = Path(__file__).resolve().parent
QUEUE = os.environ.get("BENCH_CELERY_QUEUE") or f"bench-celery-{os.getpid()}"
celery = Celery("bench", broker="amqp://guest:guest@127.0.0.1:5672//", backend="rpc://")
celery.conf.update(task_acks_late=True, task_default_queue=QUEUE, worker_prefetch_multiplier=1)


@celery.task(name="bench.started_at")
def started_at() -> float:
    return time.time()


def celery_worker() -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "celery", "-A", "control_plane", "worker", "--pool", "solo",
            "-Q", QUEUE, "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "warning"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(HERE), "BENCH_CELERY_QUEUE": QUEUE}
    return subprocess.Popen(argv, cwd=HERE, env=env, stdout=subprocess.DEVNULL)


def celery_overhead() -> float:
    sent = time.time()
    began = float(started_at.apply_async().get(timeout=60))
    return began - sent


def jobyard_overhead(client: httpx.Client, jobs: Collection[dict[str, Any]]) -> float:
    sent = time.time()
    body = {"name": "bench-control", "script": "true", "image": "minimal"}
    job_id = client.post("/v1/jobs", json=body).raise_for_status().json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in {"completed", "failed", "stopped"}:
            break
        time.sleep(0.1)
    doc = jobs.find_one({"_id": job_id}, {"sandbox.requested_at": True})
    assert doc is not None, job_id
    requested: datetime = doc["sandbox"]["requested_at"]  # stored in UTC, read back naive
    return requested.replace(tzinfo=UTC).timestamp() - sent


def main() -> int:
    args, client = bench_client(__doc__ or "", runs=30)
    infra = InfraSettings()
    mongo: MongoClient[dict[str, Any]] = MongoClient(infra.mongodb_url)
    jobs = mongo[infra.database]["jobs"]
    worker = celery_worker()
    figures: dict[str, list[float]] = {"Celery (acks_late)": [], "Jobyard": []}
    try:
        celery_overhead(), jobyard_overhead(client, jobs)  # connections and caches warm
        for _ in range(args.runs):
            figures["Celery (acks_late)"].append(celery_overhead())
            figures["Jobyard"].append(jobyard_overhead(client, jobs))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        subprocess.run(["rabbitmqctl", "-q", "delete_queue", QUEUE], capture_output=True)
    base = statistics.median(figures["Celery (acks_late)"])
    rows = [
        [
            name,
            str(len(values)),
            f"{statistics.median(values) * 1000:.1f} ms",
            f"{percentile(values, 0.95) * 1000:.1f} ms",
            f"x{statistics.median(values) / base:.1f}",
        ]
        for name, values in figures.items()
    ]
    title = f"Control plane: submit -> step command taken by the host, {args.runs} alternating runs"
    write_table(title, ["path", "runs", "p50", "p95", "x Celery"], rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
