"""Turning Docker log frames into numbered lines."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jobyard_store import Stream


@dataclass(frozen=True, slots=True)
class Frame:
    """One line as Docker stored it (lines over 16 KiB arrive as several frames)."""

    stream: Stream
    at: datetime
    text: str


def parse_frame(stream: Stream, raw: bytes) -> Frame:
    """`2026-11-21T19:56:34.987342424Z text\\n` -> Frame (timestamps=True output)."""
    stamp, _, rest = raw.decode("utf-8", errors="replace").partition(" ")
    return Frame(stream=stream, at=_parse_docker_time(stamp), text=rest.removesuffix("\n"))


def _parse_docker_time(stamp: str) -> datetime:
    # Docker gives nanoseconds; Python keeps microseconds.
    head, _, frac = stamp.removesuffix("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")


def in_time_order(frames: list[Frame]) -> list[Frame]:
    """Interleave a batch of stdout and stderr frames by the time Docker read them."""
    return sorted(frames, key=lambda f: f.at)
