"""Dead letters end to end against real RabbitMQ and the MongoDB stand-in: a worker whose
handler keeps failing has its message dead-lettered, kept with its first error, counted and
logged; `jobyard-ops dlq` (run as a process) lists it, requeues it to its queue, or drops it."""

import asyncio
import json

import pytest
from prometheus_client import REGISTRY

from jobyard_contracts import Envelope, JobAdmitted
from jobyard_messaging.topology import DELIVERY_LIMIT
from jobyard_settings import InfraSettings
from jobyard_store import DeadLetters
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.factories import make_job
from jobyard_testing.fixtures import unique_namespace
from jobyard_testing.rabbit import queue_depth
from jobyard_worker import Worker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ATTEMPTS = DELIVERY_LIMIT + 1  # the first delivery and as many redeliveries as the limit


@pytest.fixture
async def worker(infra: InfraSettings):
    settings = infra.model_copy(update={"namespace": unique_namespace("dlq")})
    worker = Worker("probe", settings, outbox_sweep_seconds=3600)
    worker.broken = True
    worker.received = []

    @worker.subscriber("on-admitted", JobAdmitted)
    async def on_admitted(msg: Envelope[JobAdmitted]) -> None:
        if worker.broken:
            raise RuntimeError(f"cannot handle {msg.type} yet")
        worker.received.append(msg)

    async with worker.running():
        yield worker
    await delete_namespace(settings.namespace)


@pytest.fixture
def ops(run_ops):
    return lambda worker, *args: run_ops(worker, "dlq", *args)


def listed(ops, worker: Worker, *args: str) -> list[dict]:
    done = ops(worker, "list", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def dead_lettered(worker: Worker, count: int, timeout: float = 60) -> list:
    letters = DeadLetters(worker.db)
    for _ in range(int(timeout / 0.2)):
        found = await letters.find()
        if len(found) >= count:
            return found
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{count} dead letter(s) not kept within {timeout} s")


async def poison(worker: Worker):
    applied = await worker.jobs.create(make_job(), [JobAdmitted()])
    await worker.relay.deliver(applied)
    return applied


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_failing_message_is_kept_with_its_first_error_then_requeued(worker, ops):
    queue = worker.names.consumer_queue("probe", "on-admitted")
    failed_before = sample(
        "jobyard_messages_handled_total", service="probe", handler="on-admitted", outcome="failed"
    )
    applied = await poison(worker)
    [letter] = await dead_lettered(worker, 1)
    assert letter.queue == queue
    assert letter.type == "job.admitted"
    assert letter.job_id == applied.job.id
    assert letter.message_id == str(applied.envelopes[0].id)
    assert letter.first_error == "RuntimeError: cannot handle job.admitted yet"
    assert letter.failures == ATTEMPTS
    assert letter.reason == "delivery_limit"
    # Kept and acknowledged: nothing waits unseen in RabbitMQ.
    assert await queue_depth(worker.infra.rabbitmq_url, worker.names.dead_letter_queue(queue)) == 0
    assert sample("jobyard_dead_letters_total", service="probe", queue=queue) == 1
    failed = sample(
        "jobyard_messages_handled_total", service="probe", handler="on-admitted", outcome="failed"
    )
    assert failed - failed_before == ATTEMPTS

    [shown] = listed(ops, worker, "--job", applied.job.id)
    assert (shown["id"], shown["first_error"]) == (letter.id, letter.first_error)
    assert listed(ops, worker, "--queue", "elsewhere") == []

    worker.broken = False  # the bug is fixed: the requeued message goes through
    done = ops(worker, "requeue", "--job", applied.job.id)
    assert (done.returncode, json.loads(done.stdout)) == (0, {"requeued": 1}), done.stderr
    for _ in range(100):
        if worker.received:
            break
        await asyncio.sleep(0.1)
    assert [m.id for m in worker.received] == [applied.envelopes[0].id]
    assert listed(ops, worker) == []


async def test_dropped_letters_are_gone_and_a_selection_is_required(worker, ops):
    await poison(worker)
    await poison(worker)
    await dead_lettered(worker, 2)
    refused = ops(worker, "drop")
    assert refused.returncode == 2
    assert "--queue, --job or --all" in refused.stderr
    assert len(listed(ops, worker)) == 2
    done = ops(worker, "drop", "--all")
    assert json.loads(done.stdout) == {"dropped": 2}
    assert listed(ops, worker) == []
    assert worker.received == []
