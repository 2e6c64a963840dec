"""Webhook: job event -> receiver, beside a direct `httpx.post` of a body to the same receiver,
in one run.

Needs the stack up with loopback receivers allowed (`make bench` does this; on a stack already
up without it the webhook is refused with a 422). Usage:

    .venv/bin/python bench/webhook_latency.py [--runs 40]

Measured:
- direct:             `httpx.post` of a webhook-sized body from this process to the receiver (a
                      plain HTTP server in this process); latency = arrived - sent.
- enqueue -> receiver: every delivery of `--runs` echo jobs' events to the same receiver;
                      latency = arrived - the delivery's `created_at` (when the notifications
                      service made it): its store write, signing and the POST.
- event -> receiver:  the same arrivals against the event's own `timestamp` (when the state
                      change happened, before it was stored): the job write, the outbox
                      publish, the notifications service's lookups, then the above.
The overhead is the difference of the enqueue -> receiver p95 and the direct p95 (target:
<= 20 ms).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from _connect import bench_client, percentile


class Receiver(ThreadingHTTPServer):
    """Records, for each request, when it arrived and the time its body says it started."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.arrivals: list[tuple[float, dict[str, object], str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        arrived = time.time()
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        self.server.arrivals.append((arrived, body, self.headers.get("webhook-id", "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


def _epoch(stamp: object) -> float:
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def direct_posts(url: str, count: int) -> list[float]:
    latencies = []
    with httpx.Client() as client:
        for _ in range(count):
            sent = time.time()
            client.post(url, json={"type": "direct", "sent": sent, "data": {"pad": "x" * 400}})
            latencies.append(time.time() - sent)
    return latencies


def main() -> None:
    args, client = bench_client(__doc__ or "", runs=40)
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    created = client.post("/v1/webhooks", json={"url": receiver.url, "description": "bench"})
    if created.status_code == 422:
        sys.exit(f"loopback refused: {created.text}\nstart the stack with "
                 "JOBYARD_WEBHOOKS_ALLOWED_NETWORKS='[\"127.0.0.0/8\"]'")  # fmt: skip
    hook_id = created.raise_for_status().json()["id"]

    direct = direct_posts(receiver.url, args.runs * 5)
    receiver.arrivals.clear()
    jobs = []
    for _ in range(args.runs):  # one at a time: the latency of a delivery, not of a queue
        body = {"name": "bench-hook", "script": "echo hi", "image": "minimal"}
        job = client.post("/v1/jobs", json=body).raise_for_status().json()
        jobs.append(job["id"])
        while client.get(f"/v1/jobs/{job['id']}").json()["status"] not in {"completed", "failed"}:
            time.sleep(0.1)
    time.sleep(3)  # the last deliveries
    ids = [webhook_id for _, body, webhook_id in receiver.arrivals if body.get("type") != "direct"]
    listed = client.get(f"/v1/webhooks/{hook_id}/deliveries", params={"limit": 500}).json()
    enqueued = {d["id"]: _epoch(d["created_at"]) for d in listed["deliveries"]}
    from_enqueue = [
        arrived - enqueued[webhook_id]
        for arrived, body, webhook_id in receiver.arrivals
        if body.get("type") != "direct" and webhook_id in enqueued
    ]
    client.delete(f"/v1/webhooks/{hook_id}")
    for job_id in jobs:
        client.delete(f"/v1/jobs/{job_id}")

    def line(name: str, values: list[float]) -> float:
        p50, p95 = percentile(values, 0.5) * 1000, percentile(values, 0.95) * 1000
        print(f"  {name:<28} n={len(values):4d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
        return p95

    print(f"\n{args.runs} echo jobs, every event delivered to a local receiver")
    base = line("direct httpx.post", direct)
    mine = line("enqueue -> receiver", from_enqueue)
    by_type: dict[str, list[float]] = {}
    for arrived, body, _ in receiver.arrivals:
        if body.get("type") != "direct":
            by_type.setdefault(str(body["type"]), []).append(arrived - _epoch(body["timestamp"]))
    line("event -> receiver", [value for values in by_type.values() for value in values])
    for event_type, values in sorted(by_type.items()):
        line(f"  {event_type}", values)
    print(f"  deliveries {len(ids)}, distinct webhook-ids {len(set(ids))}")
    print(f"  p95 overhead {mine - base:+.1f} ms over a direct POST, enqueue -> receiver "
          "(target: <= +20 ms)")  # fmt: skip
    sys.stdout.flush()


if __name__ == "__main__":
    main()
