import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import JobAdmitted
from jobyard_store import Change, JobRepository, LogLine, LogStore
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.integration


async def test_create_stores_the_job_with_its_events_in_the_outbox(mongo_db):
    jobs = JobRepository(mongo_db)
    await jobs.ensure_indexes()
    job = make_job()
    applied = await jobs.create(job, [JobAdmitted()])
    assert [e.sequence for e in applied.envelopes] == [1]
    raw = await mongo_db["jobs"].find_one({"_id": job.id})
    assert raw["version"] == 1
    assert raw["sequence"] == 1
    assert [e["envelope"]["type"] for e in raw["outbox"]] == ["job.admitted"]
    assert (await jobs.get(job.id)).name == job.name
    assert await jobs.get(job.id, user_id="someone-else") is None


async def test_concurrent_changes_all_apply_with_gapless_sequences(mongo_db):
    jobs = JobRepository(mongo_db)
    job = make_job(name="n")
    await jobs.create(job, [])

    def append_x(current):
        return Change(current.model_copy(update={"name": current.name + "x"}), [JobAdmitted()])

    await asyncio.gather(*(jobs.change(job.id, append_x) for _ in range(8)))
    final = await jobs.get(job.id)
    assert final.name == "n" + "x" * 8
    assert (final.version, final.sequence) == (9, 8)
    raw = await mongo_db["jobs"].find_one({"_id": job.id})
    assert sorted(e["envelope"]["sequence"] for e in raw["outbox"]) == list(range(1, 9))


async def test_no_change_writes_nothing(mongo_db):
    jobs = JobRepository(mongo_db)
    job = make_job()
    await jobs.create(job, [])
    applied = await jobs.change(job.id, lambda current: None)
    assert applied.envelopes == ()
    assert (await jobs.get(job.id)).version == 1


async def test_a_change_decided_on_the_callers_stale_copy_is_decided_again_on_the_stored_job(
    mongo_db,
):
    jobs = JobRepository(mongo_db)
    job = make_job(name="n")
    await jobs.create(job, [])
    stale = await jobs.get(job.id)
    await jobs.change(job.id, lambda j: Change(j.model_copy(update={"name": "moved"})))

    def append_x(current):
        return Change(current.model_copy(update={"name": current.name + "x"}))

    applied = await jobs.change(job.id, append_x, current=stale)
    assert applied.job.name == "movedx"  # not "nx": the stale copy's write found version 2
    assert (await jobs.get(job.id)).version == 3

    def only_once_moved(current):
        if current.name != "movedx":
            return None  # true of the stale copy only
        return Change(current.model_copy(update={"name": "done"}))

    applied = await jobs.change(job.id, only_once_moved, current=stale)
    assert applied.job.name == "done"


async def test_a_change_on_the_callers_fresh_copy_writes_once(mongo_db):
    jobs = JobRepository(mongo_db)
    job = make_job(name="n")
    await jobs.create(job, [])
    fresh = await jobs.get(job.id)
    applied = await jobs.change(
        job.id, lambda j: Change(j.model_copy(update={"name": "y"}), [JobAdmitted()]), current=fresh
    )
    assert [e.sequence for e in applied.envelopes] == [1]
    assert (await jobs.get(job.id)).model_dump() == applied.job.model_dump()


async def test_outbox_entries_left_behind_are_claimed_by_one_sweeper_at_a_time(mongo_db):
    jobs = JobRepository(mongo_db)
    job = make_job()
    applied = await jobs.create(job, [JobAdmitted(), JobAdmitted()])
    now = datetime.now(UTC)
    later, lease = now + timedelta(seconds=1), timedelta(seconds=30)
    too_old = now - timedelta(hours=1)
    assert await jobs.claim_stale_outbox(older_than=too_old, now=now, lease=lease) is None
    job_id, envelopes = await jobs.claim_stale_outbox(older_than=later, now=now, lease=lease)
    assert (job_id, len(envelopes)) == (job.id, 2)
    # Leased: another sweeper finds nothing until the holder releases it or the lease runs out.
    assert await jobs.claim_stale_outbox(older_than=later, now=now, lease=lease) is None
    after_lease = now + lease + timedelta(seconds=1)
    assert await jobs.claim_stale_outbox(older_than=later, now=after_lease, lease=lease)
    await jobs.mark_published(job.id, [str(applied.envelopes[0].id)])
    await jobs.release_outbox(job.id)
    _, left = await jobs.claim_stale_outbox(older_than=later, now=now, lease=lease)
    assert [e["sequence"] for e in left] == [2]
    # A change of the job never touches the lease it does not model.
    await jobs.change(job.id, lambda current: Change(current, [JobAdmitted()]))
    assert await jobs.claim_stale_outbox(older_than=later, now=now, lease=lease) is None


async def test_one_replica_at_a_time_decides_a_waiting_jobs_admission(mongo_db):
    jobs = JobRepository(mongo_db)
    job = make_job()
    await jobs.create(job, [])
    now, lease = datetime.now(UTC), timedelta(seconds=30)
    claimed, until = await jobs.claim_admission(job.id, now=now, lease=lease)
    assert claimed.id == job.id
    assert await jobs.claim_admission(job.id, now=now, lease=lease) is None  # held
    # A lease that ran out is another replica's; the first holder's release leaves it alone.
    later = now + lease + timedelta(seconds=1)
    _, taken_over = await jobs.claim_admission(job.id, now=later, lease=lease)
    await jobs.release_admission(job.id, until)
    assert await jobs.claim_admission(job.id, now=later, lease=lease) is None
    await jobs.release_admission(job.id, taken_over)
    # Once admitted (from the copy the lease answered, as stored) nobody decides it again.
    await jobs.change(
        job.id, lambda current: Change(current.model_copy(update={"admitted_at": later}), [])
    )
    assert await jobs.claim_admission(job.id, now=later, lease=lease) is None


async def test_the_outbox_backlog_counts_every_waiting_entry_and_finds_the_oldest(mongo_db):
    jobs = JobRepository(mongo_db)
    await jobs.ensure_indexes()
    assert await jobs.outbox_backlog() == (0, None)
    before = datetime.now(UTC)
    first = await jobs.create(make_job(), [JobAdmitted(), JobAdmitted()])
    await jobs.create(make_job(), [JobAdmitted()])
    await jobs.create(make_job(), [])
    count, oldest = await jobs.outbox_backlog()
    assert count == 3
    assert before - timedelta(seconds=1) <= oldest <= datetime.now(UTC)
    await jobs.mark_published(first.job.id, [str(e.id) for e in first.envelopes])
    assert (await jobs.outbox_backlog())[0] == 1


async def test_log_tail_returns_exactly_the_last_lines_in_order(mongo_db):
    logs = LogStore(mongo_db)
    await logs.ensure_indexes()
    now = datetime.now(UTC)
    lines = [
        LogLine(seq=i, step=0, stream="stderr" if i % 3 == 0 else "stdout", text=f"l{i}", at=now)
        for i in range(1, 11)
    ]
    for chunk in (lines[:4], lines[4:7], lines[7:]):  # stored as the writer flushes them
        await logs.append("j", chunk)
    await logs.append("j", lines[7:])  # a replayed write is skipped, not duplicated
    assert [line.text for line in await logs.tail("j", 3)] == ["l8", "l9", "l10"]
    assert len(await logs.tail("j")) == 10
    assert await logs.tail("j", 0) == []
    assert [line.seq for line in await logs.tail("j", 2, stream="stderr")] == [6, 9]
    assert [line.seq for line in await logs.after("j", 8)] == [9, 10]
    assert [line.seq for line in await logs.after("j", 2, limit=4)] == [3, 4, 5, 6]  # across chunks
    assert [line.seq for line in await logs.after("j", 0)] == list(range(1, 11))
    assert await logs.last_seq("j") == 10
