"""`make demo`: create a user, then run a real script job with the SDK, following it live."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from jobyard import Jobyard, create_user

BASE_URL = f"http://127.0.0.1:{os.environ.get('JOBYARD_GATEWAY_PORT', '8080')}"
ADMIN_TOKEN_FILE = Path(__file__).resolve().parents[1] / "var" / "admin-token"
SCRIPT = """
echo "Hello from $(hostname) as $(whoami) in $(pwd)"
python3 - <<'PY'
import math, platform, time
print("python", platform.python_version())
for n in range(1, 6):
    print(f"step {n}: sqrt({n}) = {math.sqrt(n):.4f}", flush=True)
    time.sleep(0.4)
PY
echo "results written" > result.txt && cat result.txt
echo "a warning on stderr" >&2
"""


def main() -> int:
    user = create_user(f"demo-{int(time.time())}", ADMIN_TOKEN_FILE.read_text().strip(), BASE_URL)
    client = Jobyard(api_key=user.api_key, base_url=BASE_URL)
    job = client.jobs.create(name="demo", script=SCRIPT, vcpus=1, memory_mb=256, timeout=120)
    print(f"submitted {job.id} ({job.status}) as {user.name} to {BASE_URL}")
    started, status = time.monotonic(), job.status
    for line in client.jobs.follow_logs(job.id, poll_interval=0.3):
        print(f"  | {line}")
        if (current := client.jobs.get_status(job.id)) != status:
            status = current
            print(f"{time.monotonic() - started:6.2f}s  status: {status}")
    job = client.jobs.get(job.id)
    if job.status != status:
        print(f"{time.monotonic() - started:6.2f}s  status: {job.status}")
    print(f"exit code {job.exit_code}, ran {job.duration_seconds}s")
    return 0 if job.status == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
