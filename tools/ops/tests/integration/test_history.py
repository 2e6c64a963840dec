"""A job's history and its redelivery against real RabbitMQ and the MongoDB stand-in, through
`jobyard-ops` run as a process: read from the job's event log, from the `history` stream once
the job's log is gone, and redelivered (all of it, or a span) to one named consumer."""

import asyncio
import json
from datetime import UTC, datetime

import pytest

from jobyard_contracts import (
    Envelope,
    JobAdmitted,
    JobStarted,
    JobStatus,
    JobSubmitted,
    StepFinished,
    StepSpec,
    StepStarted,
    StepStatus,
)
from jobyard_scheduler.domain import admission
from jobyard_settings import InfraSettings
from jobyard_store import Change, JobDocument
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.factories import make_job
from jobyard_testing.fixtures import unique_namespace
from jobyard_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def worker(infra: InfraSettings):
    settings = infra.model_copy(update={"namespace": unique_namespace("hist")})
    worker = Worker("probe", settings, outbox_sweep_seconds=3600)
    worker.received = []

    @worker.subscriber("on-admitted", JobAdmitted)
    async def on_admitted(msg: Envelope[JobAdmitted]) -> None:
        worker.received.append(msg.id)

    async with worker.running():
        yield worker
    await delete_namespace(settings.namespace)


async def received(worker: Worker, count: int) -> list:
    for _ in range(100):
        if len(worker.received) >= count:
            break
        await asyncio.sleep(0.1)
    return worker.received


async def test_history_from_the_event_log_then_from_the_stream_once_purged(worker, run_ops):
    events = [JobAdmitted(), JobStarted(), StepStarted(step_index=0)]
    applied = await worker.jobs.create(make_job(), events)
    await worker.relay.deliver(applied)
    ids = [str(e.id) for e in applied.envelopes]
    done = run_ops(worker, "history", applied.job.id, "--json")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["id"] for line in done.stdout.splitlines()] == ids
    span = run_ops(worker, "history", applied.job.id, "--json", "--from-seq", "2", "--to-seq", "2")
    assert [json.loads(line)["id"] for line in span.stdout.splitlines()] == ids[1:2]

    await worker.events.delete_job(applied.job.id)  # purged: only the stream has it now
    table = run_ops(worker, "history", applied.job.id)
    assert "3 message(s), read from the stream" in table.stdout, table.stdout + table.stderr
    streamed = run_ops(worker, "history", applied.job.id, "--json")
    assert [json.loads(line)["id"] for line in streamed.stdout.splitlines()] == ids


async def test_redelivery_sends_the_same_messages_to_the_named_consumer_only(worker, run_ops):
    applied = await worker.jobs.create(make_job(), [JobAdmitted(), JobStarted()])
    await worker.relay.deliver(applied)
    admitted = applied.envelopes[0].id
    assert await received(worker, 1) == [admitted]

    done = run_ops(worker, "redeliver", applied.job.id, "--to", "probe.on-admitted")
    # Both messages go to that queue, as they were: its consumer takes the one it handles.
    assert json.loads(done.stdout) == {"redelivered": 2}, done.stderr
    assert await received(worker, 2) == [admitted, admitted]

    later = run_ops(
        worker, "redeliver", applied.job.id, "--to", "probe.on-admitted", "--from-seq", "2"
    )
    assert json.loads(later.stdout) == {"redelivered": 1}
    await asyncio.sleep(1)
    assert worker.received == [admitted, admitted]  # seq 2 is not a message it handles

    unknown = run_ops(worker, "redeliver", applied.job.id, "--to", "nobody.here")
    assert unknown.returncode == 2
    assert "no queue" in unknown.stderr


async def test_a_time_span_picks_the_messages_that_occurred_in_it(worker, run_ops):
    first = await worker.jobs.create(make_job(), [JobAdmitted()])
    await worker.relay.deliver(first)
    await asyncio.sleep(1.2)
    between = datetime.now(UTC)
    await asyncio.sleep(1.2)
    second = await worker.relay.change(first.job.id, lambda j: Change(j, [JobStarted()]))
    admitted, started = str(first.envelopes[0].id), str(second.envelopes[0].id)
    assert await received(worker, 1) == [first.envelopes[0].id]

    def ids(*args: str) -> list[str]:
        done = run_ops(worker, "history", first.job.id, "--json", *args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line)["id"] for line in done.stdout.splitlines()]

    stamp = between.strftime("%Y-%m-%dT%H:%M:%S.%f")
    assert ids("--since", stamp) == [started]
    assert ids("--until", stamp) == [admitted]
    assert ids("--until", between.strftime("%Y-%m-%dT%H:%M:%S") + "+00:00") == [admitted]

    # Redelivered: only what occurred before `between`, to the one consumer.
    done = run_ops(worker, "redeliver", first.job.id, "--to", "probe.on-admitted", "--until", stamp)
    assert json.loads(done.stdout) == {"redelivered": 1}, done.stderr
    assert await received(worker, 2) == [first.envelopes[0].id] * 2


def submitted_of(job: JobDocument) -> JobSubmitted:
    """The submission a job of `make_job` would have been stored with."""
    return JobSubmitted(
        name=job.name,
        kind=job.kind,
        image=job.image,
        resources=job.resources,
        steps=tuple(StepSpec(index=s.index, title=s.title, script=s.script) for s in job.steps),
    )


async def test_replay_runs_the_rules_and_names_what_the_document_says_otherwise(worker, run_ops):
    job = make_job(steps=2)
    applied = await worker.jobs.create(job, [submitted_of(job)])
    await worker.relay.deliver(applied)
    agreed = run_ops(worker, "replay", job.id)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr
    assert json.loads(agreed.stdout)["differences"] == []

    # The scheduler admits it, as its handler does; then a change nobody announces.
    admitted = await worker.jobs.change(
        job.id, lambda j: admission.admit(j, "host-a"), causation_id=applied.envelopes[0].id
    )
    await worker.relay.deliver(admitted)
    await worker.jobs.change(job.id, lambda j: Change(j.model_copy(update={"host": "host-z"})))
    found = run_ops(worker, "replay", job.id)
    assert found.returncode == 1, found.stdout + found.stderr
    report = json.loads(found.stdout)
    assert report["differences"] == ["host: history says 'host-a', document says 'host-z'"]
    assert (report["state"]["status"], report["state"]["host"]) == ("pending", "host-a")
    assert report["messages"] == 2

    at_first = json.loads(run_ops(worker, "replay", job.id, "--to-seq", "1").stdout)
    assert (at_first["state"]["host"], at_first["differences"]) == (None, [])


async def test_an_operator_forks_any_users_job_from_an_event(worker, run_ops):
    job = make_job(steps=2)
    submitted = submitted_of(job)
    done = StepFinished(step_index=0, succeeded=True, exit_code=0)
    applied = await worker.jobs.create(job, [submitted, JobStarted(), done])
    await worker.relay.deliver(applied)

    forked = run_ops(worker, "fork", job.id, "--from-seq", "3")
    assert forked.returncode == 0, forked.stdout + forked.stderr
    answer = json.loads(forked.stdout)
    assert answer["forked_from"] == {"job_id": job.id, "sequence": 3, "completed_steps": [0]}
    fork = await worker.jobs.get(answer["job_id"])
    assert (fork.user_id, [s.status for s in fork.steps]) == (
        job.user_id,
        [StepStatus.COMPLETED, StepStatus.PENDING],
    )
    assert fork.status is JobStatus.PENDING

    refused = run_ops(worker, "fork", job.id, "--from-seq", "9")
    assert refused.returncode == 2
    assert "must be between 1 and 3" in refused.stderr
    assert run_ops(worker, "fork", "job_nope").returncode == 2
