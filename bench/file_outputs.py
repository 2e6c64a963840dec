"""A 1 GB output file from written-in-sandbox to listed-in-library, beside a plain `minio`
`fput_object` of a 1 GB file to the same storage, alternately in one run.

Needs the stack up (`make bench` brings it up). Usage:

    .venv/bin/python bench/file_outputs.py [--runs 3] [--url http://127.0.0.1:8080]

Measured:
- fput_object:  wall time of `Minio.fput_object` of a 1 GiB file on this host (the baseline:
                the same storage, the same SDK, no service in between)
- Jobyard:      from the moment the job's script finished writing its 1 GiB file (its own
                clock, which is this machine's) until `GET /v1/jobs/{id}/files` lists it ready
                (polled every 20 ms). The script ends right after writing, so this is the
                step-end path: the sandbox-manager asks file-sync to save the workspace at once
                (no settle time); the step's end is recorded once the file is stored.
- file-sync's peak RSS (VmHWM) after the runs: what streaming in parts costs in memory.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _connect import bench_client
from minio import Minio

from jobyard_objects import ObjectSettings
from jobyard_settings import InfraSettings

SIZE = 1024**3
ROOT = Path(__file__).resolve().parents[1]


def plain_upload(storage: Minio, bucket: str, source: Path) -> float:
    start = time.perf_counter()
    storage.fput_object(bucket, "bench/plain-1g.bin", str(source))
    elapsed = time.perf_counter() - start
    storage.remove_object(bucket, "bench/plain-1g.bin")
    return elapsed


def jobyard_output(client: httpx.Client) -> float:
    script = f"head -c {SIZE} /dev/zero | tr '\\0' 'j' > big.bin && date +%s.%N > /dev/stderr"
    body = {"name": "bench-1g-output", "script": script, "image": "minimal"}
    response = client.post("/v1/jobs", json=body)
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        files = client.get(f"/v1/jobs/{job_id}/files").json()["files"]
        listed = [f for f in files if f["path"] == "big.bin" and f["status"] == "ready"]
        if listed:
            seen = time.time()
            break
        time.sleep(0.02)
    lines = client.get(f"/v1/jobs/{job_id}/logs").json()["lines"]
    written = float(lines[-1]["text"])
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
    plain, ours = [], []
    with tempfile.NamedTemporaryFile(dir="/var/tmp") as source:
        block = b"j" * 64 * 1024**2
        for _ in range(SIZE // len(block)):
            source.write(block)
        source.flush()
        for run in range(args.runs):
            plain.append(plain_upload(storage, bucket, Path(source.name)))
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
