"""`make demo`: create a user, run a real script job with the SDK following its output live,
then a multi-step agent job (explicit steps, no model needed) following its plan live, list
the files it produced with their download links, and end with a signed-in link to the web
dashboard, where the jobs can be looked at (each link works once, for 10 minutes)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx

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


AGENT_STEPS = [
    {
        "title": "Generate a count table",
        "script": """python3 - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(1)
counts = rng.poisson(100, size=(500, 6)); counts[:40, 3:] *= 3
pd.DataFrame(counts, index=[f"gene{i}" for i in range(500)],
             columns=["c1", "c2", "c3", "t1", "t2", "t3"]).to_csv("counts.csv")
print("500 genes x 6 samples -> counts.csv")
PY""",
    },
    {
        "title": "Test each gene (treated vs control)",
        "script": """python3 - <<'PY'
import warnings; warnings.filterwarnings("ignore")
import numpy as np, pandas as pd
from scipy import stats
log = np.log2(pd.read_csv("counts.csv", index_col=0) + 1)
t, p = stats.ttest_ind(log[["t1", "t2", "t3"]], log[["c1", "c2", "c3"]], axis=1)
fold = log[["t1", "t2", "t3"]].mean(axis=1) - log[["c1", "c2", "c3"]].mean(axis=1)
res = pd.DataFrame({"log2_fold_change": fold, "p_value": p}).sort_values("p_value")
res.to_csv("results.csv")
print(f"{(res.p_value < 0.01).sum()} genes with p < 0.01 -> results.csv")
PY""",
    },
    {
        "title": "Volcano plot",
        "script": """python3 - <<'PY'
import matplotlib; matplotlib.use("Agg")
import matplotlib.pyplot as plt, numpy as np, pandas as pd
res = pd.read_csv("results.csv", index_col=0)
plt.scatter(res.log2_fold_change, -np.log10(res.p_value), s=5)
plt.xlabel("log2 fold change"); plt.ylabel("-log10 p"); plt.savefig("volcano.png", dpi=80)
print("volcano.png written")
PY""",
    },
]


def dashboard_link(api_key: str, page: str) -> str:
    """A one-time link that opens `page` of the dashboard signed in as the demo user."""
    response = httpx.post(
        f"{BASE_URL}/v1/sign-in-links",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return f"{BASE_URL}{response.json()['url']}&next={page}"


def run_agent_job(client: Jobyard, api_key: str) -> tuple[bool, str]:
    job = client.agent_jobs.start(
        "Differential expression on a small count table: results CSV and a volcano plot",
        steps=AGENT_STEPS,
        chat_id=f"demo-{int(time.time())}",
        memory_mb=512,
    )
    print(f"\nagent job {job.id}: {job.title}")
    print(f"watch it live in the dashboard: {dashboard_link(api_key, f'/dashboard/jobs/{job.id}')}")
    started = time.monotonic()
    for snapshot in client.agent_jobs.follow(job.id):
        progress = snapshot.progress
        done, total = (progress.completed_steps, progress.total_steps) if progress else (0, 0)
        marks = " ".join(
            {"completed": "[x]", "running": "[>]", "failed": "[!]"}.get(item.status, "[ ]")
            for item in snapshot.plan
        )
        print(f"{time.monotonic() - started:6.2f}s  {snapshot.status:<10} {done}/{total} {marks}")
    job = client.agent_jobs.get(job.id)
    for step in job.timeline:
        print(
            f"  {step.title} ({step.duration_seconds}s, exit {step.exit_code}): {step.output_tail}"
        )
    return job.status == "completed" and show_files(client, job.id), job.id


def show_files(client: Jobyard, job_id: str) -> bool:
    """The job's files in the Files library, each with its time-limited download link, once
    the job says they are complete (the execution log is saved just after the job ends)."""
    deadline = time.monotonic() + 15
    while not client.jobs.get(job_id).files.complete and time.monotonic() < deadline:
        time.sleep(0.3)
    files = client.jobs.files(job_id)
    print(f"\nfiles of {job_id} (straight from storage, links valid 15 minutes):")
    for listed in sorted(files, key=lambda f: (f.kind, f.path)):
        link = client.files.get(listed.id).download_url
        step = "" if listed.step_index is None else f" step {listed.step_index + 1}"
        print(f"  {listed.kind:<6} {listed.path:<44} {listed.size:>8} B{step:<8} {link}")
    return {"counts.csv", "results.csv", "volcano.png"} <= {f.path for f in files}


def main() -> int:
    user = create_user(f"demo-{int(time.time())}", ADMIN_TOKEN_FILE.read_text().strip(), BASE_URL)
    client = Jobyard(api_key=user.api_key, base_url=BASE_URL)
    job = client.jobs.create(name="demo", script=SCRIPT, vcpus=1, memory_mb=256, timeout=120)
    print(f"submitted {job.id} ({job.status}) as {user.name} to {BASE_URL}")
    started, status = time.monotonic(), job.status
    for line in client.jobs.follow_logs(job.id):
        print(f"  | {line}")
        if (current := client.jobs.get_status(job.id)) != status:
            status = current
            print(f"{time.monotonic() - started:6.2f}s  status: {status}")
    job = client.jobs.get(job.id)
    if job.status != status:
        print(f"{time.monotonic() - started:6.2f}s  status: {job.status}")
    print(f"exit code {job.exit_code}, ran {job.duration_seconds}s")
    agent_ok, agent_job_id = run_agent_job(client, user.api_key)
    page = f"/dashboard/jobs/{agent_job_id}"
    print(f"\ndashboard: {BASE_URL}/dashboard/ (sign in with the API key {user.api_key})")
    print(
        f"signed in as {user.name}, valid once for 10 minutes: {dashboard_link(user.api_key, page)}"
    )
    return 0 if job.status == "completed" and agent_ok else 1


if __name__ == "__main__":
    sys.exit(main())
