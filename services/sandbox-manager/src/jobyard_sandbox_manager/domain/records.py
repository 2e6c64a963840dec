"""The runner's records, as Docker stored them (`timestamps=True` log frames). Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from jobyard_store import LogLine, Stream

RecordKind = Literal["ready", "start", "out", "exit"]
_STREAMS: dict[str, Stream] = {"o": "stdout", "e": "stderr"}


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


def parse_record(raw: bytes) -> Record | None:
    """`2026-11-21T19:56:34.987342424Z {"t": ...}\\n` -> Record; None for anything else
    (nothing but the runner writes to its stdout, but a record is never trusted blindly)."""
    stamp, _, rest = raw.decode("utf-8", errors="replace").partition(" ")
    try:
        body = json.loads(rest)
        at = _parse_docker_time(stamp)
        kind = body["t"]
        if kind == "out":
            return Record(
                "out",
                at,
                step=int(body["step"]),
                stream=_STREAMS[body["s"]],
                number=int(body["i"]),
                text=str(body["x"]),
            )
        if kind == "exit":
            return Record("exit", at, step=int(body["step"]), exit_code=int(body["code"]))
        if kind == "start":
            return Record("start", at, step=int(body["step"]))
        if kind == "ready":
            return Record("ready", at)
    except (ValueError, KeyError, TypeError):
        return None
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
