"""An `echo` job through Jobyard beside a raw `docker run --rm` of the same image.

Runs both paths alternately in one invocation (same machine, same moment) and prints medians
and ratios. Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/echo_job.py [--runs 15] [--url http://127.0.0.1:8080]

Measured:
- docker run:     wall time of `docker run --rm --network none --user 1000:1000 IMAGE echo`
- submit->running: server side, job.started_at - job.created_at (admission, dispatch,
                   container create and start, across three services and RabbitMQ)
- end to end:     client side, POST /v1/jobs until GET shows `completed` (polled every 10 ms)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from datetime import datetime

import httpx
from _connect import bench_client

IMAGE = "jobyard/sandbox-minimal:latest"


def raw_docker_run() -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "1000:1000",
            IMAGE,
            "bash",
            "-c",
            "echo hello",
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def jobyard_run(client: httpx.Client) -> tuple[float, float]:
    start = time.perf_counter()
    body = {"name": "bench-echo", "script": "echo hello", "image": "minimal"}  # as docker run
    response = client.post("/v1/jobs", json=body)
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            break
        time.sleep(0.01)
    end_to_end = time.perf_counter() - start
    if job["status"] != "completed":
        raise RuntimeError(f"bench job failed: {job}")
    created = datetime.fromisoformat(job["created_at"])
    started = datetime.fromisoformat(job["started_at"])
    return (started - created).total_seconds(), end_to_end


def main() -> int:
    args, client = bench_client(__doc__ or "", runs=15)

    raw_docker_run(), jobyard_run(client)  # warm caches on both paths
    docker_times, to_running, end_to_end = [], [], []
    for _ in range(args.runs):
        docker_times.append(raw_docker_run())
        running, total = jobyard_run(client)
        to_running.append(running)
        end_to_end.append(total)

    docker_median = statistics.median(docker_times)
    rows = [
        ("raw docker run --rm (baseline)", docker_median),
        ("jobyard submit -> running", statistics.median(to_running)),
        ("jobyard submit -> completed", statistics.median(end_to_end)),
    ]
    print(f"echo job, median of {args.runs} alternating runs")
    for label, value in rows:
        print(f"  {label:34s} {value * 1000:8.1f} ms   x{value / docker_median:.2f} of docker run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
