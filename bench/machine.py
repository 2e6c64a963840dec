"""The machine a benchmark run is made on, as the Markdown header of its results: cores,
memory, Docker (version, runtimes, the sandboxes' runtime), and whether MongoDB is the
stand-in, with what one store operation costs here (each figure's share of it: bench/README.md).

    .venv/bin/python bench/machine.py [FILE]   # FILE: write there (else print)
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pymongo import MongoClient

STANDIN_URL = "mongodb://127.0.0.1:27017/?directConnection=true"


def store_op_ms(url: str) -> float:
    """Median of 50 indexed reads of one document (what most hops of a job do)."""
    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=3000)
    jobs = client["jobyard-bench-probe"]["jobs"]
    jobs.replace_one({"_id": "probe"}, {"_id": "probe", "status": "pending"}, upsert=True)
    times = []
    for _ in range(50):
        start = time.perf_counter()
        jobs.find_one({"_id": "probe"})
        times.append(time.perf_counter() - start)
    client.drop_database("jobyard-bench-probe")
    return statistics.median(times) * 1000


RUN = Path(__file__).resolve().parent.parent / "var" / "run"
STANDIN_PID = RUN / "mongo-standin.pid"
DAEMONS = {
    "dockerd": "dockerd",
    "containerd": "containerd",
    "beam.smp": "RabbitMQ",
    "nats-server": "NATS",
}
"""The long-lived processes besides the stack's own, by their command name."""


def standin_cpu_seconds() -> float | None:
    """CPU time the MongoDB stand-in's process has used so far (None: a real MongoDB, or no
    stand-in running here). Taken before and after a run, it is the store's share of it: the
    stand-in serves one operation at a time, so while it is busy every hop waits."""
    if os.environ.get("MONGODB_URL") or not STANDIN_PID.exists():
        return None
    leader = int(STANDIN_PID.read_text())
    for pid in [leader, *children(leader)]:
        cmdline = Path(f"/proc/{pid}/cmdline")
        if cmdline.exists() and b"mongo-standin" in cmdline.read_bytes():
            return _cpu_seconds(pid)
    return None


def process_cpu_seconds() -> dict[str, float]:
    """CPU time used so far by each long-lived process of the machine a run loads: the stack's
    own (`var/run/*.pid`, with their children) and the container engine, broker and stream
    server. Taken before and after a run; what the machine used beyond their sum went to
    short-lived processes (containerd shims, runc, the sandboxes' and docker CLI's own) and
    the kernel."""
    used: dict[str, float] = {}
    for path in sorted(RUN.glob("*.pid")):
        leader = int(path.read_text())
        used[path.stem] = sum(_cpu_seconds(pid) for pid in [leader, *children(leader)])
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name = DAEMONS.get(stat.read_text().split("(", 1)[1].rsplit(")", 1)[0])
            if name is not None:
                used[name] = used.get(name, 0.0) + _cpu_seconds(int(stat.parent.name))
        except (OSError, IndexError):  # gone meanwhile
            continue
    return used


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time every process of the machine has used so far (all cores, idle excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Every process below `pid` (a service may fork helpers)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    kids = [int(p) for p in found.split()]
    return kids + [grandchild for kid in kids for grandchild in children(kid)]


def docker(template: str) -> str:
    found = subprocess.run(
        ["docker", "info", "--format", template], capture_output=True, text=True, check=False
    )
    return found.stdout.strip()


def describe() -> str:
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    url = os.environ.get("MONGODB_URL", "")
    store = "real MongoDB" if url else "the MongoDB stand-in (mongoeco)"
    runtime = os.environ.get("JOBYARD_SANDBOX_RUNTIME", "the stack's choice")
    return "\n".join(
        [
            f"# Benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"- machine: {os.cpu_count()} cores, {memory_kb / 2**20:.1f} GiB, "
            f"{platform.platform()}",
            f"- Docker {docker('{{.ServerVersion}}')}, cgroup v{docker('{{.CgroupVersion}}')}, "
            f"runtimes {docker('{{range $k, $v := .Runtimes}}{{$k}} {{end}}')}; "
            f"sandboxes: {runtime}",
            f"- store: {store}, one indexed read {store_op_ms(url or STANDIN_URL):.1f} ms "
            "(median of 50)",
            "",
        ]
    )


def main() -> int:
    text = describe()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).parent.mkdir(parents=True, exist_ok=True)
        Path(sys.argv[1]).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
