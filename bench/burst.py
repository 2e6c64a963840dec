"""A burst of short jobs from many users beside the same `docker run --rm`s at the same
parallelism, and what every service and sandbox costs in memory, idle and under that load.

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/burst.py [--runs 1]

Measured:
- Jobyard:    USERS users each submit JOBS / USERS echo jobs at once (each user
              runs 3 at a time, the host at most `MAX_RUNNING`); wall time from the first
              submit to the last job seen completed (each user lists its jobs every second),
              and jobs/s
- docker run: the same number of `docker run --rm --network none ... echo hello`, PARALLEL
              at a time (the host's default `MAX_RUNNING`: the most Jobyard runs at once)
- CPU:        per job, of each long-lived process (each service, stand-in, dockerd,
              containerd, RabbitMQ, NATS) and of the rest of the machine, for both paths
- memory:     RSS of every service process of the stack (var/run/*.pid), idle before the burst
              and the peak during it; per sandbox, an idle warm sandbox's cgroup memory and its
              containerd shim's RSS
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from _connect import bench_client, write_table
from machine import RUN, children, machine_cpu_seconds, process_cpu_seconds, standin_cpu_seconds

from jobyard import create_user

IMAGE = "jobyard/sandbox-minimal:latest"
TERMINAL = {"completed", "failed", "stopped"}
JOBS, USERS, PARALLEL = 200, 10, 16
POLL_SECONDS = 1.0
"""How often each user lists its jobs: at 5 Hz, ten users' lists were most of the store's
load (the figure then measured the bench's own polling, not the platform)."""


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (a service may fork helpers)."""
    total = 0.0
    for each in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return total


def services() -> dict[str, int]:
    return {
        path.stem: int(path.read_text())
        for path in sorted(RUN.glob("*.pid"))
        if path.stem.split("-")[0]
        in ("gateway", "scheduler", "agent", "sandbox", "file", "notifications")
    }


def sandbox_overhead_mb() -> tuple[float, float] | None:
    """An idle warm sandbox: its cgroup's memory, and its containerd shim's RSS."""
    ids = subprocess.run(
        ["docker", "ps", "-q", "--no-trunc", "--filter", "label=jobyard.pool"],
        capture_output=True,
        text=True,
    ).stdout.split()
    for container_id in ids:
        usage = Path(f"/sys/fs/cgroup/memory/docker/{container_id}/memory.usage_in_bytes")
        shim = subprocess.run(
            ["pgrep", "-f", f"containerd-shim.*{container_id}"], capture_output=True, text=True
        ).stdout.split()
        if usage.exists() and shim:
            return int(usage.read_text()) / 2**20, rss_mb(int(shim[0]))
    return None


def sample_peaks(peak: dict[str, float], stop: threading.Event) -> None:
    while not stop.wait(0.5):
        for name, pid in services().items():
            peak[name] = max(peak.get(name, 0.0), rss_mb(pid))


@dataclass(frozen=True, slots=True)
class Spent:
    """CPU seconds of a run: each long-lived process's, and the machine's in all."""

    by_process: dict[str, float]
    machine: float

    @classmethod
    def since(cls, before: dict[str, float], machine: float) -> Spent:
        after = process_cpu_seconds()
        return cls({name: after[name] - before.get(name, 0.0) for name in after}, machine)


def cpu_rows(spent: dict[str, list[Spent]], jobs: int) -> list[list[str]]:
    """Per job, summed over the runs: each process, the rest of the machine, the machine."""
    totals = {path: Counter[str]() for path in spent}
    for path, runs in spent.items():
        for run in runs:
            totals[path].update(run.by_process)
    machine = {path: sum(run.machine for run in runs) for path, runs in spent.items()}
    names = sorted({n for t in totals.values() for n in t}, key=lambda n: -totals["Jobyard"][n])

    def ms(seconds: float) -> str:
        return f"{seconds / jobs * 1000:.0f}"

    rows = [[name, *(ms(totals[path][name]) for path in spent)] for name in names]
    rows.append([
        "the rest: containerd shims, runc, the sandboxes' and docker CLI's processes, the kernel",
        *(ms(machine[path] - sum(totals[path].values())) for path in spent),
    ])  # fmt: skip
    rows.append(["every process (the machine)", *(ms(machine[path]) for path in spent)])
    return rows


def user_burst(url: str, key: str, count: int, done_at: list[float]) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:
        body = {"name": "burst", "script": "echo hello", "image": "minimal"}
        for _ in range(count):
            api.post("/v1/jobs", json=body).raise_for_status()
        while True:
            jobs = api.get("/v1/jobs", params={"limit": count}).json()["jobs"]
            if sum(job["status"] in TERMINAL for job in jobs) >= count:
                done_at.append(time.perf_counter())
                return
            time.sleep(POLL_SECONDS)


def docker_run() -> None:
    subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", "1000:1000", IMAGE,
         "bash", "-c", "echo hello"],
        check=True, capture_output=True,
    )  # fmt: skip


def main() -> int:
    parser_args, client = bench_client(__doc__ or "", runs=1)
    jobs, users, parallel = JOBS, USERS, PARALLEL
    token = (RUN.parent / "admin-token").read_text().strip()
    url = str(client.base_url)
    idle = {name: rss_mb(pid) for name, pid in services().items()}
    overhead = sandbox_overhead_mb()
    peak = dict(idle)
    rows: list[list[str]] = []
    store_rows: list[list[str]] = []
    spent: dict[str, list[Spent]] = {"Jobyard": [], "docker run": []}
    for run in range(parser_args.runs):
        keys = [
            create_user(f"burst-{run}-{i}-{time.time_ns()}", token, url).api_key
            for i in range(users)
        ]
        sampling = threading.Event()
        sampler = threading.Thread(target=sample_peaks, args=(peak, sampling))
        sampler.start()
        done_at: list[float] = []
        store_cpu, cpu = standin_cpu_seconds(), machine_cpu_seconds()
        processes = process_cpu_seconds()
        start = time.perf_counter()
        threads = [
            threading.Thread(target=user_burst, args=(url, key, jobs // users, done_at))
            for key in keys
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ours = max(done_at) - start
        ours_cpu = machine_cpu_seconds() - cpu
        spent["Jobyard"].append(Spent.since(processes, ours_cpu))
        store_cpu_after = standin_cpu_seconds()
        if store_cpu is not None and store_cpu_after is not None:
            busy = store_cpu_after - store_cpu
            store_rows.append([
                f"{busy:.1f} s of {ours:.1f} s ({busy / ours:.0%} of one core)",
                f"{busy / jobs * 1000:.0f} ms",
                f"{jobs / busy:.1f} jobs/s",
            ])  # fmt: skip
        sampling.set()
        sampler.join()

        cpu, processes = machine_cpu_seconds(), process_cpu_seconds()
        start = time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            for _ in pool.map(lambda _: docker_run(), range(jobs)):
                pass
        theirs = time.perf_counter() - start
        theirs_cpu = machine_cpu_seconds() - cpu
        spent["docker run"].append(Spent.since(processes, theirs_cpu))
        rows.append([f"docker run --rm, {parallel} at a time", f"{theirs:.1f} s", "x1.00"])
        rows.append([f"Jobyard, {users} users", f"{ours:.1f} s", f"x{theirs / ours:.2f}"])
        measured = zip(rows[-2:], (theirs, ours), (theirs_cpu, ours_cpu), strict=True)
        for row, seconds, used in measured:
            row[2:2] = [f"{jobs / seconds:.1f}", f"{used / jobs * 1000:.0f} ms"]
    write_table(
        f"{jobs} echo jobs from {users} users at once (target: >= x1.50 the throughput of "
        "docker run)",
        ["path", "wall time", "jobs/s", "CPU per job (every process)", "throughput ratio"],
        rows,
        parser_args.markdown,
    )
    if store_rows:
        write_table(
            "The MongoDB stand-in during Jobyard's burst: it serves one operation at a time, so "
            "its CPU time bounds the throughput",
            ["busy", "per job", "the most it allows"],
            store_rows,
            parser_args.markdown,
        )
    write_table(
        "Where the CPU goes: milliseconds per job, by process (ordered by Jobyard's)",
        ["process", *spent],
        cpu_rows(spent, jobs * parser_args.runs),
        parser_args.markdown,
    )
    memory_rows = [
        [name, f"{idle.get(name, 0):.0f} MiB", f"{peak[name]:.0f} MiB"] for name in sorted(peak)
    ]
    write_table(
        "Memory (RSS) of every service, idle and at the burst's peak",
        ["process", "idle", "peak under the burst"],
        memory_rows,
        parser_args.markdown,
    )
    if overhead is not None:
        write_table(
            "Per sandbox on the host (an idle warm sandbox)",
            ["its cgroup's memory", "its containerd shim (RSS)"],
            [[f"{overhead[0]:.1f} MiB", f"{overhead[1]:.1f} MiB"]],
            parser_args.markdown,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
