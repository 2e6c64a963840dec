"""A 1 GB output file from written-in-sandbox to listed-in-library, beside a plain `minio`
`fput_object` of the same file to the same storage, alternately in one run.

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/file_outputs.py [--runs 3] [--url http://127.0.0.1:8080]

Both sides start from the same thing: a 1 GiB file a job's script has just written into its
workspace (a loop-mounted ext4 disk, as every job's), and end when it is stored.
- fput_object:  the job's file is excluded from its outputs (file-sync leaves it alone) and
                the job sleeps; the bench uploads it from the host with `Minio.fput_object`:
                wall time from when the script finished writing (its own clock, this
                machine's) until `fput_object` returns. The same storage, the same SDK, no
                service in between.
- Jobyard:      the same script, its file an output, the script ends right after writing:
                from the moment it finished writing until the library lists the file ready
                (the record's `updated_at`, written when it was listed; polled every 0.5 s,
                so the polling costs the stack nothing measurable). This is the step-end
                path: the sandbox-manager asks file-sync to save the workspace at once (no
                settle time), and the step's end is recorded once the file is stored.
- file-sync's peak RSS (VmHWM) after the runs: what streaming in parts costs in memory.

A first read of a file just written to a loop-mounted disk is slower than a read of one long
cached (measured here: 13-14 s against 10-11 s for either client), which is why the baseline
uploads a file written the same way rather than a warm file of its own.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx
from _connect import bench_client
from minio import Minio

from jobyard_objects import ObjectSettings
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_settings import InfraSettings

SIZE = 1024**3
ROOT = Path(__file__).resolve().parents[1]


WRITE = f"head -c {SIZE} /dev/zero | tr '\\0' 'j' > big.bin && date +%s.%N > /dev/stderr"


def start_writer(client: httpx.Client, script: str, **body: object) -> str:
    response = client.post(
        "/v1/jobs", json={"name": "bench-1g-output", "script": script, "image": "minimal", **body}
    )
    response.raise_for_status()
    return str(response.json()["id"])


def written_at(client: httpx.Client, job_id: str) -> float | None:
    """When the script finished writing (the line it printed then), once it has."""
    lines = client.get(f"/v1/jobs/{job_id}/logs").json()["lines"]
    return float(lines[-1]["text"]) if lines else None


def plain_upload(client: httpx.Client, storage: Minio, bucket: str) -> float:
    job_id = start_writer(client, f"{WRITE} && sleep 600", outputs={"exclude": ["big.bin"]})
    while (written := written_at(client, job_id)) is None:
        time.sleep(0.05)
    # <state dir>/<namespace>/<host>/disks/<job's disk>/workspace/big.bin, on whichever host
    state = SandboxManagerSettings().state_dir
    [source] = state.glob(f"*/*/disks/*{job_id}*/workspace/big.bin")
    storage.fput_object(bucket, "bench/plain-1g.bin", str(source))
    elapsed = time.time() - written
    storage.remove_object(bucket, "bench/plain-1g.bin")
    client.post(f"/v1/jobs/{job_id}/cancel")
    client.delete(f"/v1/jobs/{job_id}")
    return elapsed


def jobyard_output(client: httpx.Client) -> float:
    job_id = start_writer(client, WRITE)
    while True:
        files = client.get(f"/v1/jobs/{job_id}/files").json()["files"]
        listed = [f for f in files if f["path"] == "big.bin" and f["status"] == "ready"]
        if listed:
            seen = datetime.fromisoformat(listed[0]["updated_at"]).timestamp()
            break
        time.sleep(0.5)
    written = written_at(client, job_id)
    assert written is not None
    assert listed[0]["size"] == SIZE, listed
    client.delete(f"/v1/jobs/{job_id}")  # its files (and objects) go with it
    return seen - written


def file_sync_peak_rss_mib() -> float | None:
    pid_file = ROOT / "var" / "run" / "file-sync.pid"
    if not pid_file.exists():
        return None
    status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    return int(peak) / 1024


def main() -> None:
    args, client = bench_client(__doc__ or "", runs=3)
    settings = ObjectSettings()
    storage = Minio(
        settings.endpoint.split("://", 1)[1],
        settings.access_key,
        settings.secret_key.get_secret_value(),
        secure=settings.endpoint.startswith("https"),
    )
    bucket = settings.bucket_for(InfraSettings())
    plain: list[float] = []
    ours: list[float] = []
    for run in range(args.runs):
        plain.append(plain_upload(client, storage, bucket))
        ours.append(jobyard_output(client))
        print(f"run {run + 1}: fput_object {plain[-1]:.2f} s, Jobyard {ours[-1]:.2f} s")
    base, mine = statistics.median(plain), statistics.median(ours)
    print(f"\n1 GiB, median of {args.runs} alternating runs")
    print(f"  fput_object          {base:6.2f} s  {SIZE / base / 1e6:7.1f} MB/s")
    print(f"  written -> listed    {mine:6.2f} s  {SIZE / mine / 1e6:7.1f} MB/s")
    print(f"  throughput ratio     {base / mine:6.2f}x of the plain upload (target >= 0.8x)")
    rss = file_sync_peak_rss_mib()
    if rss is not None:
        print(f"  file-sync peak RSS   {rss:6.1f} MiB (target < 150 MiB)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
