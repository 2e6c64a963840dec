"""Stop the machine's NATS server for a while, then start it again with the same command line:
how tests check that live views survive a NATS outage (NATS is lossy fan-out, never the truth)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobyard_testing.stack import accepting


def _nats_server() -> tuple[int, list[str]]:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode()).name == "nats-server" and b"4222" in argv:
            return int(proc.name), [a.decode() for a in argv if a]
    raise RuntimeError("no nats-server on port 4222")


@contextmanager
def nats_down() -> Iterator[None]:
    """NATS is down inside the block, and up again (same arguments, same data) after it."""
    pid, argv = _nats_server()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while accepting(4222):
        assert time.monotonic() < deadline, "nats-server did not stop"
        time.sleep(0.05)
    try:
        yield
    finally:
        subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 20
        while not accepting(4222):
            assert time.monotonic() < deadline, "nats-server did not come back"
            time.sleep(0.05)
