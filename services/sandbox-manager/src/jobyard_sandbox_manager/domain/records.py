"""The runner's records, as Docker stored them (`timestamps=True` log frames). Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jobyard_store import LogLine, Stream

RecordKind = Literal["ready", "start", "out", "exit"]
_MAX_STEPS = 10_000
_MAX_NUMBER = 2**53  # MongoDB and JSON both hold it exactly
_STREAMS: dict[str, Stream] = {"o": "stdout", "e": "stderr"}


@dataclass(frozen=True, slots=True)
class CgroupCounters:
    """The sandbox's OOM kills and forks refused by its pids limit, so far."""

    oom_kills: int
    pids_limit_hits: int


@dataclass(frozen=True, slots=True)
class Record:
    kind: RecordKind
    at: datetime
    step: int = -1
    stream: Stream = "stdout"
    number: int = 0
    """Output records: the line's number in this sandbox (1, 2, ...)."""
    text: str = ""
    exit_code: int = 0
    counters: CgroupCounters | None = None
    """Start and exit records: read by the runner at that moment (runc only)."""


def parse_record(raw: bytes) -> Record | None:
    """`2026-11-21T19:56:34.987342424Z {"t": ...}\\n` -> Record; None for anything else.

    Records are what the sandbox says about itself: a job can forge its own (it can only lie
    about its own output and exit), so values out of range are dropped rather than stored."""
    stamp, _, rest = raw.decode("utf-8", errors="replace").partition(" ")
    try:
        body = json.loads(rest)
        at = _parse_docker_time(stamp)
        kind = body["t"]
        step = int(body.get("step", 0))
        if not 0 <= step < _MAX_STEPS:
            return None
        if kind == "out":
            number = int(body["i"])
            if not 0 < number < _MAX_NUMBER:
                return None
            text = str(body["x"])
            return Record("out", at, step, _STREAMS[body["s"]], number, text)
        if kind == "exit":
            code = int(body["code"])
            if not 0 <= code <= 255:
                return None
            return Record("exit", at, step=step, exit_code=code, counters=_counters(body))
        if kind == "start":
            return Record("start", at, step=step, counters=_counters(body))
        if kind == "ready":
            return Record("ready", at)
    except (ValueError, KeyError, TypeError):
        return None
    return None


def _counters(body: dict[str, object]) -> CgroupCounters | None:
    oom, pids = body.get("oom"), body.get("pids")
    if isinstance(oom, int) and isinstance(pids, int) and oom >= 0 and pids >= 0:
        return CgroupCounters(oom_kills=oom, pids_limit_hits=pids)
    return None


def _parse_docker_time(stamp: str) -> datetime:
    # Docker gives nanoseconds; Python keeps microseconds.
    head, _, frac = stamp.removesuffix("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")


def log_line(record: Record, base_seq: int) -> LogLine:
    """Output record -> stored line: numbered after the lines of earlier sandboxes of the job."""
    return LogLine(
        seq=base_seq + record.number,
        step=record.step,
        stream=record.stream,
        text=record.text,
        at=record.at,
    )
