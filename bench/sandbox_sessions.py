"""Pause and resume of a job holding 1 GB of memory, beside `docker pause`/`unpause` of a raw
container holding the same; and gVisor against runc on an `echo` and a CPU-bound step.

Both sides of each comparison run alternately in one invocation and print medians and ratios.
The pause part needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/sandbox_sessions.py [--runs 7] [--url http://127.0.0.1:8080]

Measured:
- API pause:    POST /v1/jobs/{id}/pause until it answers `paused` (the sandbox is frozen then)
- API resume:   POST /v1/jobs/{id}/resume until it answers `running`
- docker pause / unpause: the `docker` command against a container holding 1 GB (the floor)
- runtimes:     `docker run --rm` of `echo` and of a CPU-bound Python step, runc then runsc
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import httpx
from _connect import bench_client

IMAGE = "jobyard/sandbox-minimal:latest"
HOLD_1GB = """python3 -c '
import time
block = bytearray(2**30)
for i in range(0, 2**30, 4096):
    block[i] = 1
print("holding", flush=True)
time.sleep(3600)
'"""
CPU_BOUND = "python3 -c 'print(sum(i * i for i in range(20_000_000)))'"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def api_pause_resume(client: httpx.Client, runs: int) -> tuple[list[float], list[float]]:
    body = {"name": "bench-hold", "script": HOLD_1GB, "image": "minimal", "memory_mb": 1536}
    job = client.post("/v1/jobs", json=body).raise_for_status().json()
    while "holding" not in client.get(f"/v1/jobs/{job['id']}/logs").json()["text"]:
        time.sleep(0.1)
    pauses, resumes = [], []
    for _ in range(runs):
        pauses.append(timed(lambda: _expect(client, job["id"], "pause", "paused")))
        resumes.append(timed(lambda: _expect(client, job["id"], "resume", "running")))
    client.post(f"/v1/jobs/{job['id']}/cancel")
    return pauses, resumes


def _expect(client: httpx.Client, job_id: str, verb: str, status: str) -> None:
    answer = client.post(f"/v1/jobs/{job_id}/{verb}").raise_for_status().json()
    if answer["status"] != status:
        raise RuntimeError(f"{verb}: {answer['status']} {answer['status_detail']}")


def docker_pause_resume(runs: int) -> tuple[list[float], list[float]]:
    name = f"bench-hold-{os.getpid()}"
    limits = ["--name", name, "--network", "none", "--memory", "1536m"]
    docker("run", "-d", *limits, IMAGE, "bash", "-c", HOLD_1GB)
    try:
        while "holding" not in docker("logs", name):
            time.sleep(0.1)
        pauses, resumes = [], []
        for _ in range(runs):
            pauses.append(timed(lambda: docker("pause", name)))
            resumes.append(timed(lambda: docker("unpause", name)))
        return pauses, resumes
    finally:
        docker("rm", "-f", name)


def runtime_runs(runtime: str, script: str) -> float:
    sandbox = ["--rm", "--runtime", runtime, "--network", "none", "--user", "1000:1000"]
    return timed(lambda: docker("run", *sandbox, IMAGE, "bash", "-c", script))


def row(label: str, values: list[float], baseline: float) -> str:
    median = statistics.median(values)
    p95 = sorted(values)[max(0, round(0.95 * len(values)) - 1)]
    return (
        f"  {label:38s} {median * 1000:8.1f} ms (p95 {p95 * 1000:7.1f})  x{median / baseline:.2f}"
    )


def main() -> int:
    args, client = bench_client(__doc__ or "", runs=7)

    raw_pause, raw_resume = docker_pause_resume(args.runs)
    api_pause, api_resume = api_pause_resume(client, args.runs)
    print(f"pause/resume of a sandbox holding 1 GB, median of {args.runs}")
    print(row("docker pause (baseline)", raw_pause, statistics.median(raw_pause)))
    print(row("jobyard POST /pause -> paused", api_pause, statistics.median(raw_pause)))
    print(row("docker unpause (baseline)", raw_resume, statistics.median(raw_resume)))
    print(row("jobyard POST /resume -> running", api_resume, statistics.median(raw_resume)))

    runtimes = json.loads(docker("info", "--format", "{{json .Runtimes}}"))
    if "runsc" not in runtimes:
        print("gVisor (runsc) is not registered with Docker: runtime comparison skipped")
        return 0
    for label, script in (("echo", "echo hello"), ("cpu-bound step", CPU_BOUND)):
        runc, runsc = [], []
        for _ in range(args.runs):  # alternating, so both see the same machine
            runc.append(runtime_runs("runc", script))
            runsc.append(runtime_runs("runsc", script))
        print(f"{label}: docker run --rm, median of {args.runs} alternating runs")
        print(row("runc (baseline)", runc, statistics.median(runc)))
        print(row("runsc (gVisor)", runsc, statistics.median(runc)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
