"""Rules of the live feeds: what a client is sent, in which order, and when its stream ends.

A job's feed carries two numbered series, its events (`seq`, the job's sequence) and its output
lines (`line`, the output's sequence). The client says where it is in both; everything after is
sent once, in order within each series, first from the store, then live. A live message that
does not follow on directly from what was sent is not sent: the gap is filled from the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from jobyard_store import JobDocument, LogLine, StoredEvent

# Close codes (RFC 6455 leaves 4000-4999 to applications; these mirror HTTP statuses).
JOB_ENDED: Final = 1000
UNAUTHORIZED: Final = 4401
NOT_FOUND: Final = 4404
BAD_REQUEST: Final = 4422
TOO_SLOW: Final = 4408

# An ended job whose outputs never report their final sync (its host died) still ends its feed.
OUTPUTS_GRACE: Final = timedelta(seconds=30)

# What the jobs page follows on `GET /v1/live`: changes of a job's status or progress.
JOB_CHANGES: Final = frozenset(
    {
        "job.submitted",
        "job.admitted",
        "job.started",
        "job.step.started",
        "job.step.finished",
        "job.plan.updated",
        "job.input.requested",
        "job.input.received",
        "job.paused",
        "job.resumed",
        "job.completed",
        "job.failed",
        "job.stopped",
        "job.cancelled",
        "job.deleted",
        "files.synced",
    }
)


@dataclass(slots=True)
class FeedCursor:
    """How far a client got: the last event and the last output line it was sent."""

    seq: int = 0
    line: int = 0

    def resume_hint(self) -> str:
        return f"after_seq={self.seq}&after_line={self.line}"


def cursor_from(after_seq: str, after_line: str) -> FeedCursor:
    """The client's cursor from its query; ValueError naming the field when it is not one."""
    numbers = {}
    for name, raw in (("after_seq", after_seq), ("after_line", after_line)):
        if not (raw.isascii() and raw.isdigit()):
            raise ValueError(f"{name} must be a whole number >= 0, not {raw[:20]!r}")
        numbers[name] = int(raw)
    return FeedCursor(seq=numbers["after_seq"], line=numbers["after_line"])


def event_message(event: StoredEvent) -> dict[str, Any]:
    return {"type": "event", "seq": event.seq, "event": event.envelope}


def line_message(line: LogLine) -> dict[str, Any]:
    return {"type": "line", **line.model_dump(mode="json")}


def end_message(job: JobDocument, cursor: FeedCursor) -> dict[str, Any]:
    return {
        "type": "end",
        "status": job.status.value,
        "after_seq": cursor.seq,
        "after_line": cursor.line,
    }


def merge_pages(
    events: list[StoredEvent], lines: list[LogLine], page: int
) -> list[StoredEvent | LogLine]:
    """One page of each series, as one list in time order. A full page may continue beyond
    what was read, so nothing of the other series later than its last item is taken yet."""
    horizon: datetime | None = None
    for series in (events, lines):
        if len(series) >= page:
            last = _time(series[-1])
            horizon = last if horizon is None else min(horizon, last)
    merged: list[StoredEvent | LogLine] = [*events, *lines]
    merged.sort(key=_time)  # stable: each series keeps its own order
    if horizon is None:
        return merged
    return [item for item in merged if _time(item) <= horizon]


def follows_on(cursor: FeedCursor, item: StoredEvent | LogLine) -> bool | None:
    """True: send it next; None: already sent; False: something before it is missing."""
    last, number = (
        (cursor.seq, item.seq) if isinstance(item, StoredEvent) else (cursor.line, item.seq)
    )
    if number <= last:
        return None
    return number == last + 1


def advance(cursor: FeedCursor, item: StoredEvent | LogLine) -> None:
    if isinstance(item, StoredEvent):
        cursor.seq = item.seq
    else:
        cursor.line = item.seq


def feed_ended(job: JobDocument, cursor: FeedCursor, now: datetime | None = None) -> bool:
    """The job ended, the client has every event of it, and its outputs are settled (their
    final sync recorded, or none to wait for)."""
    if not job.status.is_terminal or cursor.seq < job.sequence:
        return False
    if job.files_complete:
        return True
    ended = job.finished_at or job.created_at
    return (now or datetime.now(UTC)) - ended > OUTPUTS_GRACE


def _time(item: StoredEvent | LogLine) -> datetime:
    return item.occurred_at if isinstance(item, StoredEvent) else item.at
