"""Fast starts: an `echo` job from submit to its first output line at the client, and to its
end, warm and cold, beside `docker run --rm` and `docker exec` into a running container (the
floor), alternating in one invocation. Prints medians, p95 and ratios; `--markdown` appends
the table to a file (`make bench` writes bench/results/).

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/fast_start.py [--runs 15] [--markdown FILE]

Measured, each from the client's side (this machine's clock):
- docker run --rm:  `docker run --rm --network none --user 1000:1000 IMAGE bash -c 'echo hello'`
                    started -> its first stdout line read / the process ended
- docker exec:      the same command exec'd into a container already running (the floor: no
                    container to create)
- Jobyard warm:     POST /v1/jobs -> the line on the job's WebSocket (`/v1/jobs/{id}/live`) /
                    its `job.completed` event there; the sandbox claimed from the host's warm
                    pool. The feed's `end` (every file of the job stored) follows: its own row
- Jobyard cold:     the same job with a disk size the pool does not keep, so its sandbox is
                    created on the request path (the cold path)
Every run, whichever path, starts once the host's pool is full again (its sandbox-manager's
`jobyard_sandboxes{state="warm"}`): the refill behind a claim would otherwise load whichever
run came next. The job's own events (`GET /v1/jobs/{id}/events`) give each hop's share (see
bench/README.md).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from typing import Any, NamedTuple

import httpx
from _connect import bench_client, percentile, write_table
from httpx_ws import connect_ws
from machine import standin_cpu_seconds, store_op_ms
from pymongo import MongoClient

from jobyard_settings import InfraSettings
from jobyard_testing.metrics import Scrape

IMAGE = "jobyard/sandbox-minimal:latest"
ECHO = ["bash", "-c", "echo hello"]
COLD_DISK_MB = 2000
"""A disk size no pool keeps (pools keep the host's default size): the job starts cold."""
HOPS = (
    ("job.submitted", "job.admitted", "scheduler: admit and place"),
    ("job.admitted", "job.step.dispatched", "agent: plan and dispatch step 0"),
    ("job.step.dispatched", "sandbox.started", "sandbox-manager: sandbox, hand over, step runs"),
    ("sandbox.started", "sandbox.exited", "step runs, output stored, outputs synced"),
    ("sandbox.exited", "job.completed", "agent: step and job recorded"),
)


POOL_METRICS = "http://127.0.0.1:{port}/metrics"


def warm_sandboxes(client: httpx.Client) -> float:
    """Idle pool members of the stack's host (its sandbox-manager's `jobyard_sandboxes`)."""
    port = os.environ.get("JOBYARD_SANDBOX_HEALTH_PORT", "8083")
    return Scrape(client.get(POOL_METRICS.format(port=port)).text).value(
        "jobyard_sandboxes", state="warm"
    )


def pool_full(client: httpx.Client) -> float:
    """What the pool holds once full: its count, unchanged for 2 s."""
    seen, steady_since = warm_sandboxes(client), time.monotonic()
    while time.monotonic() - steady_since < 2:
        time.sleep(0.2)
        now = warm_sandboxes(client)
        if now != seen:
            seen, steady_since = now, time.monotonic()
    return seen


def await_refill(client: httpx.Client, full: float, timeout: float = 15) -> None:
    """Each run starts with the pool refilled behind the last claim: a member starting would
    otherwise take the CPU from whichever run came next."""
    deadline = time.monotonic() + timeout
    while warm_sandboxes(client) < full and time.monotonic() < deadline:
        time.sleep(0.05)


def timed_process(argv: list[str]) -> tuple[float, float]:
    """Seconds to the first stdout line and to the end."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    process.stdout.readline()
    first = time.perf_counter() - start
    process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{argv} exited with {process.returncode}")
    return first, time.perf_counter() - start


class EchoRun(NamedTuple):
    first: float
    """Seconds to the first line on the job's WebSocket."""
    completed: float
    """Seconds to its `job.completed` event there."""
    files: float
    """Seconds to its `end` (every file stored: `files.complete`)."""
    store_ops: int
    store_cpu: float | None
    """Seconds the MongoDB stand-in computed from submit to `end` (None: a real MongoDB)."""
    job: dict[str, Any]


def store_ops(store: MongoClient[dict[str, Any]]) -> int:
    """Operations the store has served so far (every service's, background loops included)."""
    counters = store.admin.command("serverStatus")["opcounters"]
    return sum(int(counters[name]) for name in ("insert", "query", "update", "delete", "command"))


def jobyard_echo(client: httpx.Client, store: MongoClient[dict[str, Any]], cold: bool) -> EchoRun:
    body: dict[str, Any] = {"name": "bench-echo", "script": "echo hello", "image": "minimal"}
    if cold:
        body["disk_mb"] = COLD_DISK_MB
    ops, cpu = store_ops(store), standin_cpu_seconds()
    start = time.perf_counter()
    job_id = client.post("/v1/jobs", json=body).raise_for_status().json()["id"]
    first = completed = 0.0
    with connect_ws(f"/v1/jobs/{job_id}/live", client) as ws:
        while True:
            message = ws.receive_json()
            if message["type"] == "line" and not first:
                first = time.perf_counter() - start
            if message["type"] == "event" and message["event"]["type"] == "job.completed":
                completed = time.perf_counter() - start
            if message["type"] == "end":
                break
    files = time.perf_counter() - start
    cpu_after = standin_cpu_seconds()
    ops = store_ops(store) - ops
    store_cpu = cpu_after - cpu if cpu is not None and cpu_after is not None else None
    job = client.get(f"/v1/jobs/{job_id}").json()
    if job["status"] != "completed":
        raise RuntimeError(f"bench job failed: {job}")
    return EchoRun(first, completed or files, files, ops, store_cpu, job)


def hop_seconds(client: httpx.Client, job_id: str) -> dict[str, float]:
    events = client.get(f"/v1/jobs/{job_id}/events").json()["events"]
    at: dict[str, datetime] = {}
    for event in events:
        at.setdefault(event["type"], datetime.fromisoformat(event["occurred_at"]))
    return {
        label: (at[end] - at[begin]).total_seconds()
        for begin, end, label in HOPS
        if begin in at and end in at
    }


def main() -> int:
    args, client = bench_client(__doc__ or "", runs=15)
    floor = f"bench-floor-{int(time.time())}"
    subprocess.run(
        ["docker", "run", "-d", "--name", floor, "--network", "none", "--user", "1000:1000",
         IMAGE, "sleep", "infinity"],
        check=True, capture_output=True,
    )  # fmt: skip
    run_argv = ["docker", "run", "--rm", "--network", "none", "--user", "1000:1000", IMAGE, *ECHO]
    exec_argv = ["docker", "exec", floor, *ECHO]
    firsts: defaultdict[str, list[float]] = defaultdict(list)
    ends: defaultdict[str, list[float]] = defaultdict(list)
    files: defaultdict[str, list[float]] = defaultdict(list)
    ops: defaultdict[str, list[int]] = defaultdict(list)
    store_cpu: defaultdict[str, list[float]] = defaultdict(list)
    url = InfraSettings().mongodb_url
    store: MongoClient[dict[str, Any]] = MongoClient(url)
    hops: defaultdict[str, defaultdict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    runtime = "?"
    try:
        timed_process(run_argv), jobyard_echo(client, store, cold=False)  # warm caches
        full = pool_full(client)
        for _ in range(args.runs):
            for name, argv in (("docker run --rm", run_argv), ("docker exec (floor)", exec_argv)):
                await_refill(client, full)
                first, end = timed_process(argv)
                firsts[name].append(first)
                ends[name].append(end)
            for cold in (False, True):
                await_refill(client, full)
                run = jobyard_echo(client, store, cold)
                job = run.job
                name = f"Jobyard {job['sandbox']['start']}"
                runtime = job["sandbox"]["runtime"]
                firsts[name].append(run.first)
                ends[name].append(run.completed)
                files[name].append(run.files)
                ops[name].append(run.store_ops)
                if run.store_cpu is not None:
                    store_cpu[name].append(run.store_cpu)
                for hop, seconds in hop_seconds(client, job["id"]).items():
                    hops[name][hop].append(seconds)
    finally:
        subprocess.run(["docker", "rm", "-f", floor], capture_output=True)

    base = statistics.median(firsts["docker run --rm"])
    base_end = statistics.median(ends["docker run --rm"])
    header = ["path", "runs", "first line p50", "p95", "x docker run", "completed p50", "p95",
              "x docker run"]  # fmt: skip
    rows = []
    for name in ("docker run --rm", "docker exec (floor)", "Jobyard warm", "Jobyard cold"):
        if not firsts[name]:
            continue
        first_p50, end_p50 = statistics.median(firsts[name]), statistics.median(ends[name])
        rows.append([
            name,
            str(len(firsts[name])),
            f"{first_p50 * 1000:.0f} ms",
            f"{percentile(firsts[name], 0.95) * 1000:.0f} ms",
            f"x{first_p50 / base:.2f}",
            f"{end_p50 * 1000:.0f} ms",
            f"{percentile(ends[name], 0.95) * 1000:.0f} ms",
            f"x{end_p50 / base_end:.2f}",
        ])  # fmt: skip
    title = (
        f"Echo job, {args.runs} alternating rounds (sandbox runtime {runtime}); "
        "targets: warm first line p50 <= x0.50 of docker run (stretch x0.25), cold no worse "
        "than before"
    )
    hop_header = ["hop (median, from the job's events)", *sorted(hops)]
    hop_rows = [
        [label, *(f"{statistics.median(hops[name][label]) * 1000:.0f} ms" for name in sorted(hops))]
        for _, _, label in HOPS
        if all(hops[name][label] for name in hops)
    ]
    to_files = {n: [f - c for f, c in zip(files[n], ends[n], strict=True)] for n in hops}
    hop_rows.append(
        ["completed -> every file stored (the live feed's `end`)"]
        + [f"{statistics.median(to_files[n]) * 1000:.0f} ms" for n in sorted(hops)]
    )
    read_ms = store_op_ms(url)
    hop_rows.append(
        ["store operations during the job (all services)"]
        + [f"{statistics.median(ops[name]):.0f} (x {read_ms:.1f} ms)" for name in sorted(hops)]
    )
    if all(store_cpu[name] for name in hops):
        hop_rows.append(
            ["the MongoDB stand-in's CPU time during the job (one operation at a time)"]
            + [
                f"{statistics.median(store_cpu[n]) * 1000:.0f} ms "
                f"({statistics.median(store_cpu[n]) / statistics.median(files[n]):.0%})"
                for n in sorted(hops)
            ]
        )
    write_table(title, header, rows, args.markdown)
    write_table("Where a Jobyard echo job's time goes", hop_header, hop_rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
