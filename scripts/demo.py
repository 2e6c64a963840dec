"""`make demo`: create a user, submit a real script job, follow it to the end.

Prints every status change and the job's output as it is stored (catching up by sequence
number, as a reconnecting client would).
"""

from __future__ import annotations

import os
import sys
import time

import httpx

from jobyard_gateway.admin import create_user_key

BASE_URL = os.environ.get(
    "JOBYARD_URL", f"http://127.0.0.1:{os.environ.get('JOBYARD_GATEWAY_PORT', '8080')}"
)
SCRIPT = """
echo "Hello from $(hostname) as $(whoami) in $(pwd)"
python3 - <<'PY'
import math, platform
print("python", platform.python_version())
for n in range(1, 6):
    print(f"step {n}: sqrt({n}) = {math.sqrt(n):.4f}", flush=True)
    __import__("time").sleep(0.4)
PY
echo "results written" > result.txt && cat result.txt
echo "a warning on stderr" >&2
"""


def main() -> int:
    _, key = create_user_key(f"demo-{int(time.time())}")
    client = httpx.Client(base_url=BASE_URL, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    job = client.post(
        "/v1/jobs",
        json={"name": "demo", "script": SCRIPT, "vcpus": 1, "memory_mb": 256, "timeout": 120},
    )
    job.raise_for_status()
    job_id = job.json()["id"]
    print(f"submitted {job_id} to {BASE_URL}")
    status, seq, started = None, 0, time.monotonic()
    while True:
        current = client.get(f"/v1/jobs/{job_id}").json()
        for line in client.get(f"/v1/jobs/{job_id}/logs", params={"after_seq": seq}).json()[
            "lines"
        ]:
            print(f"  [{line['stream']}] {line['text']}")
            seq = line["seq"]
        if current["status"] != status:
            status = current["status"]
            print(f"{time.monotonic() - started:6.2f}s  status: {status}")
        if status in ("completed", "failed", "stopped"):
            break
        if time.monotonic() - started > 180:
            print("demo job did not finish in 180 s", file=sys.stderr)
            return 1
        time.sleep(0.3)
    result = {k: current[k] for k in ("exit_code", "reason", "duration_seconds")}
    print(f"result: {result}")
    return 0 if status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
