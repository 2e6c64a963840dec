"""Log line written in the sandbox -> received by a WebSocket client, at 1,000 lines/s for 30 s,
beside a 500 ms batching baseline (the cadence of GitHub Actions' log upload), in one run.

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/live_latency.py [--runs 1]

Measured on the same job at the same time:
- Jobyard:     a client on `GET /v1/jobs/{id}/live` (WebSocket); each line carries the moment
               the sandbox wrote it (this machine's clock), so latency = received - written.
- 500 ms batches: the same lines as if a 500 ms batching stage sat in front of that client
               (each line held until the next flush, every 500 ms): the baseline's cadence on
               our transport.
- stored-log polling: a client reading `GET /v1/jobs/{id}/logs?after_seq=` every 500 ms. It
               reads MongoDB, so with the stand-in (which stores ~1,000 lines/s far behind) it
               shows the store's lag more than any cadence.
Each counts what it received: every line must arrive exactly once (lost = 0).
"""

from __future__ import annotations

import sys
import threading
import time

import httpx
from _connect import bench_client, percentile
from httpx_ws import WebSocketDisconnect, connect_ws

BATCH_SECONDS = 0.5
# Writes `rate` lines a second, each its write time, paced against the clock (not by sleeps).
WRITER = """python3 -u - <<'PY'
import sys, time
rate, seconds = {rate}, {seconds}
start = time.time()
for n in range(rate * seconds):
    due = start + n / rate
    while time.time() < due:
        time.sleep(max(0.0, min(0.001, due - time.time())))
    sys.stdout.write(f"{{time.time():.6f}}\\n")
PY"""


def over_websocket(
    client: httpx.Client,
    job_id: str,
    latencies: list[float],
    seqs: list[int],
    arrivals: list[float],
) -> None:
    with connect_ws(f"/v1/jobs/{job_id}/live", client) as ws:
        try:
            while True:
                message = ws.receive_json()
                if message["type"] == "line":
                    arrivals.append(time.time())
                    latencies.append(arrivals[-1] - float(message["text"]))
                    seqs.append(message["seq"])
        except WebSocketDisconnect:
            return


def polled_store(
    client: httpx.Client, job_id: str, latencies: list[float], seqs: list[int]
) -> None:
    after = 0
    while True:
        finished = client.get(f"/v1/jobs/{job_id}").json()["status"] in {"completed", "failed"}
        page = client.get(f"/v1/jobs/{job_id}/logs", params={"after_seq": after}).json()
        now = time.time()
        for line in page["lines"]:
            latencies.append(now - float(line["text"]))
            seqs.append(line["seq"])
        after = page["last_seq"] if page["lines"] else after
        if finished and not page["lines"]:
            return
        time.sleep(BATCH_SECONDS)


def batched_by_cadence(latencies: list[float], arrivals: list[float]) -> list[float]:
    """The latencies had each line also waited for the next flush of a batcher that flushes
    every BATCH_SECONDS (from the first line's arrival)."""
    start = arrivals[0]
    return [
        latency + (BATCH_SECONDS - (arrived - start) % BATCH_SECONDS)
        for latency, arrived in zip(latencies, arrivals, strict=True)
    ]


def report(name: str, latencies: list[float], seqs: list[int], expected: int) -> float:
    lost = expected - len(set(seqs))
    duplicates = len(seqs) - len(set(seqs))
    p50, p95, p99 = (percentile(latencies, q) * 1000 for q in (0.5, 0.95, 0.99))
    print(
        f"  {name:<22} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms"
        f"  lost {lost}  duplicates {duplicates}"
    )
    return p95


def main() -> None:
    parser_args, client = bench_client(__doc__ or "", runs=1)
    rate, seconds = 1000, 30
    for run in range(parser_args.runs):
        script = WRITER.format(rate=rate, seconds=seconds)
        body = {"name": "bench-live", "script": script, "image": "minimal"}
        job_id = client.post("/v1/jobs", json=body).raise_for_status().json()["id"]
        ws: tuple[list[float], list[int], list[float]] = ([], [], [])
        polled: tuple[list[float], list[int]] = ([], [])
        readers = [
            threading.Thread(target=over_websocket, args=(client, job_id, *ws)),
            threading.Thread(target=polled_store, args=(client, job_id, *polled)),
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join()
        print(f"\nrun {run + 1}: {rate} lines/s for {seconds} s ({rate * seconds} lines)")
        latencies, seqs, arrivals = ws
        ours = report("WebSocket (Jobyard)", latencies, seqs, rate * seconds)
        base = report(
            "500 ms batches", batched_by_cadence(latencies, arrivals), seqs, rate * seconds
        )
        report("stored-log polling", *polled, rate * seconds)
        print(f"  p95 ratio              {ours / base:.2f}x of the batching baseline "
              f"(target: p95 <= 100 ms, 0 lost)")  # fmt: skip
        client.delete(f"/v1/jobs/{job_id}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
