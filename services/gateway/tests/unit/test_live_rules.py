"""The live feed's rules: order, gaps, duplicates, the end of a stream, a client too slow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import JobStatus
from jobyard_gateway.adapters.feeds import Inbox
from jobyard_gateway.domain.live import (
    FeedCursor,
    cursor_from,
    feed_ended,
    follows_on,
    merge_pages,
)
from jobyard_store import LogLine, SandboxContainer, StoredEvent
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(seq: int, second: float) -> StoredEvent:
    return StoredEvent.of(
        {
            "job_id": "j",
            "user_id": "u",
            "sequence": seq,
            "type": "job.step.started",
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
        }
    )


def line(seq: int, second: float) -> LogLine:
    return LogLine(
        seq=seq, step=0, stream="stdout", text=f"l{seq}", at=T0 + timedelta(seconds=second)
    )


def test_pages_merge_in_time_order_and_each_series_keeps_its_own():
    merged = merge_pages([event(1, 0), event(2, 5)], [line(1, 1), line(2, 6)], page=10)
    assert [(type(i).__name__, i.seq) for i in merged] == [
        ("StoredEvent", 1),
        ("LogLine", 1),
        ("StoredEvent", 2),
        ("LogLine", 2),
    ]


def test_a_full_page_holds_back_what_comes_after_its_last_item():
    # Only 2 lines per page were read: events after the second line may have lines before them.
    merged = merge_pages([event(1, 0), event(2, 9)], [line(1, 1), line(2, 2)], page=2)
    assert [i.seq for i in merged] == [1, 1, 2]
    assert all(not (isinstance(i, StoredEvent) and i.seq == 2) for i in merged)


def test_only_the_next_number_follows_on_earlier_ones_are_duplicates():
    cursor = FeedCursor(seq=3, line=10)
    assert follows_on(cursor, event(4, 0)) is True
    assert follows_on(cursor, event(3, 0)) is None
    assert follows_on(cursor, event(6, 0)) is False
    assert follows_on(cursor, line(11, 0)) is True
    assert follows_on(cursor, line(13, 0)) is False


def test_a_stream_ends_once_the_job_ended_every_event_was_sent_and_outputs_settled():
    job = make_job().model_copy(update={"status": JobStatus.COMPLETED, "sequence": 12})
    assert feed_ended(job, FeedCursor(seq=12))
    assert not feed_ended(job, FeedCursor(seq=11))
    running = job.model_copy(update={"status": JobStatus.RUNNING})
    assert not feed_ended(running, FeedCursor(seq=12))

    container = SandboxContainer.model_validate(
        {"name": "c", "host": "h", "generation": 1, "runtime": "runc"}
    )
    syncing = job.model_copy(update={"container": container, "finished_at": datetime.now(UTC)})
    assert not feed_ended(syncing, FeedCursor(seq=12))  # its final files are still coming
    long_ago = syncing.model_copy(update={"finished_at": datetime.now(UTC) - timedelta(hours=1)})
    assert feed_ended(long_ago, FeedCursor(seq=12))  # its host never reported: not forever


async def test_an_inbox_past_its_bound_drops_everything_and_says_so():
    inbox = Inbox(size=3)
    for n in range(5):
        inbox.put({"n": n})
    assert inbox.overflowed
    assert await inbox.take(0.01) == [{"n": 4}]
    assert await asyncio.wait_for(inbox.take(0.01), 1) == []


@pytest.mark.parametrize(
    ("after_seq", "after_line", "field"),
    [
        ("-1", "0", "after_seq"),
        ("x", "0", "after_seq"),
        ("0", "1.5", "after_line"),
        ("", "0", "after_seq"),
    ],
)
def test_a_cursor_that_is_not_two_whole_numbers_is_refused_by_name(after_seq, after_line, field):
    with pytest.raises(ValueError, match=field):
        cursor_from(after_seq, after_line)
    assert cursor_from("12", "340") == FeedCursor(seq=12, line=340)
