"""Each parameter does what it says; stop, delete and errors behave at their edges."""

import asyncio
import contextlib
import subprocess
import time

import pytest
from pymongo import MongoClient

from jobyard import (
    AsyncJobyard,
    AuthenticationError,
    ConflictError,
    Jobyard,
    NotFoundError,
    QuotaExceededError,
    ValidationError,
)
from jobyard_testing.containers import job_containers

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def user(stack, jobyard_home):
    client = Jobyard(api_key=stack.new_user(f"p-{time.monotonic_ns()}"), base_url=stack.base_url)
    yield client
    for job in client.jobs.list():
        if not job.finished:
            with contextlib.suppress(ConflictError):  # it ended since it was listed
                client.jobs.stop(job.id)
    client.close()


def wait_running(client, job_id):
    for _ in range(200):
        if client.jobs.get_status(job_id) == "running":
            return
        time.sleep(0.1)
    raise TimeoutError(client.jobs.get(job_id))


def containers_of(stack, job_id):
    return list(job_containers(stack.namespace, job_id))


def volumes(stack):
    return subprocess.run(
        ["docker", "volume", "ls", "-q", "--filter", f"name={stack.namespace}-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def test_memory_is_a_limit_and_exceeding_it_is_out_of_memory(user):
    script = "python3 -c 'blocks = [bytearray(16 * 2**20) for _ in range(40)]'"
    job = user.jobs.run_and_wait(name="oom", script=script, memory_mb=96, poll_interval=0.3)
    assert (job.status, job.reason) == ("failed", "out of memory")
    fits = user.jobs.run_and_wait(name="fits", script=script, memory_mb=1024, poll_interval=0.3)
    assert fits.status == "completed"


def test_timeout_stops_the_job_and_records_why(user):
    job = user.jobs.run_and_wait(name="slow", script="sleep 30", timeout=1, poll_interval=0.3)
    assert (job.status, job.reason) == ("failed", "timeout")
    assert job.duration_seconds < 15


def test_env_reaches_the_script(user):
    job = user.jobs.run_and_wait(
        name="env", script='echo "$A-$B"', env={"A": "x", "B": "y z"}, poll_interval=0.3
    )
    assert user.jobs.get_logs(job.id) == "x-y z\n"


def test_stateful_jobs_share_workspace_by_name_and_ephemeral_ones_start_clean(stack, user):
    count = "n=$(cat counter 2>/dev/null || echo 0); echo $((n + 1)) | tee counter"
    runs = [
        user.jobs.run_and_wait(name="cache", script=count, stateful=True, poll_interval=0.3)
        for _ in range(2)
    ]
    assert [user.jobs.get_logs(j.id) for j in runs] == ["1\n", "2\n"]
    ephemeral = [
        user.jobs.run_and_wait(name="cache", script=count, poll_interval=0.3) for _ in range(2)
    ]
    assert [user.jobs.get_logs(j.id) for j in ephemeral] == ["1\n", "1\n"]
    other = Jobyard(api_key=stack.new_user(f"o-{time.monotonic_ns()}"), base_url=stack.base_url)
    theirs = other.jobs.run_and_wait(name="cache", script=count, stateful=True, poll_interval=0.3)
    assert other.jobs.get_logs(theirs.id) == "1\n"

    # Deleting one stateful job keeps the workspace while another job of the name needs it.
    user.jobs.delete(runs[0].id)
    third = user.jobs.run_and_wait(name="cache", script=count, stateful=True, poll_interval=0.3)
    assert user.jobs.get_logs(third.id) == "3\n"
    user.jobs.delete(runs[1].id)
    user.jobs.delete(third.id)
    time.sleep(2)
    user_volume = [v for v in volumes(stack) if "-ws-" in v and v.endswith("-cache")]
    assert len(user_volume) == 1  # only the other user's workspace is left


def test_ipv6_lease_is_validated_stored_and_handed_to_the_sandbox(user):
    with pytest.raises(ValidationError) as refused:
        user.jobs.create(name="net", script="true", ipv6_lease="not a lease!")
    assert refused.value.errors[0]["field"] == "ipv6_lease"
    job = user.jobs.create(
        name="net", script='echo "$JOBYARD_IPV6_LEASE"', ipv6_lease="2001:db8::42"
    )
    assert job.ipv6_lease == "2001:db8::42"
    user.jobs.wait(job.id, poll_interval=0.3)
    assert user.jobs.get_logs(job.id) == "2001:db8::42\n"


def test_persistent_job_stays_up_until_stopped_and_ssh_ends_with_it(user):
    vm = user.jobs.create(name="vm", script="echo up", persistent=True)
    wait_running(user, vm.id)
    time.sleep(1.5)
    assert user.jobs.get_status(vm.id) == "running"  # the script ended, the sandbox did not
    assert user.jobs.ssh(vm.id).port > 0
    stopped = user.jobs.stop(vm.id)
    assert stopped.status == "stopped"
    assert stopped.reason == "stopped by user"
    with pytest.raises(ConflictError, match="available while it runs"):
        user.jobs.ssh(vm.id)
    plain = user.jobs.create(name="plain", script="true")
    with pytest.raises(ConflictError, match="not persistent"):
        user.jobs.ssh(plain.id)


def test_stop_ends_a_running_job_promptly_and_a_finished_one_is_a_conflict(stack, user):
    job = user.jobs.create(name="long", script="echo started; sleep 300")
    wait_running(user, job.id)
    started = time.monotonic()
    stopped = user.jobs.stop(job.id)
    assert stopped.status == "stopped"
    assert time.monotonic() - started < 5
    for _ in range(50):
        if not containers_of(stack, job.id):
            break
        time.sleep(0.2)
    assert containers_of(stack, job.id) == []
    assert user.jobs.get_logs(job.id) == "started\n"  # output so far stays available
    with pytest.raises(ConflictError, match="already stopped"):
        user.jobs.stop(job.id)
    done = user.jobs.run_and_wait(name="quick", script="true", poll_interval=0.3)
    with pytest.raises(ConflictError, match="already completed"):
        user.jobs.stop(done.id)


def test_a_queued_job_can_be_stopped_before_it_starts(user):
    running = [user.jobs.create(name=f"hog{i}", script="sleep 60") for i in range(3)]
    queued = user.jobs.create(name="queued", script="echo never")
    assert user.jobs.stop(queued.id).status == "stopped"
    for job in running:
        user.jobs.stop(job.id)
    time.sleep(1.5)
    assert user.jobs.get(queued.id).status == "stopped"
    assert user.jobs.get_logs(queued.id) == ""


def test_deleting_a_running_job_removes_job_logs_and_container(stack, infra, user):
    job = user.jobs.create(name="doomed", script="echo hi; sleep 300")
    wait_running(user, job.id)
    assert user.jobs.delete(job.id).deleted
    with pytest.raises(NotFoundError, match="not found"):
        user.jobs.get(job.id)
    with pytest.raises(NotFoundError):
        user.jobs.delete(job.id)  # a second delete finds nothing
    db = MongoClient(infra.mongodb_url)[infra.database]
    for _ in range(100):
        gone = db.jobs.count_documents({"_id": job.id}) == 0
        if (
            gone
            and not containers_of(stack, job.id)
            and not db.log_chunks.count_documents({"job_id": job.id})
        ):
            break
        time.sleep(0.2)
    assert db.jobs.count_documents({"_id": job.id}) == 0
    assert db.log_chunks.count_documents({"job_id": job.id}) == 0
    assert containers_of(stack, job.id) == []
    assert not any(job.id in v for v in volumes(stack))


def test_run_and_wait_returns_a_failing_job_with_its_exit_code(user):
    job = user.jobs.run_and_wait(name="fails", script="echo bad >&2; exit 7", poll_interval=0.3)
    assert (job.status, job.exit_code, job.stderr_tail) == ("failed", 7, "bad")


def test_other_users_jobs_are_not_found_and_bad_keys_are_refused(stack, user):
    job = user.jobs.create(name="private", script="true")
    other = Jobyard(api_key=stack.new_user(f"x-{time.monotonic_ns()}"), base_url=stack.base_url)
    for action in (other.jobs.get, other.jobs.get_logs, other.jobs.stop, other.jobs.delete):
        with pytest.raises(NotFoundError):
            action(job.id)
    assert job.id not in {j.id for j in other.jobs.list()}
    with pytest.raises(AuthenticationError, match="invalid API key"):
        Jobyard(api_key="jy_wrong", base_url=stack.base_url).jobs.list()


def test_list_filters_by_status_and_name(user):
    done = user.jobs.run_and_wait(name="listed", script="true", poll_interval=0.3)
    failed = user.jobs.run_and_wait(name="listed", script="false", poll_interval=0.3)
    assert [j.id for j in user.jobs.list(name="listed")] == [failed.id, done.id]
    assert [j.id for j in user.jobs.list(name="listed", status="failed")] == [failed.id]
    with pytest.raises(ValidationError):
        user.jobs.list(status="exploded")


def test_too_many_active_jobs_is_a_quota_error(stack, user):
    limit = int(stack.env["JOBYARD_LIMITS_MAX_ACTIVE_JOBS_PER_USER"])
    jobs = [user.jobs.create(name=f"fill{i}", script="sleep 60") for i in range(limit)]
    with pytest.raises(QuotaExceededError, match=f"most allowed is {limit}"):
        user.jobs.create(name="one-too-many", script="true")
    for job in jobs:
        user.jobs.stop(job.id)
    assert user.jobs.create(name="room-again", script="true").status == "pending"


async def test_the_async_client_has_the_same_surface(stack, user):
    async with AsyncJobyard(
        api_key=user._http.headers["Authorization"][7:], base_url=stack.base_url
    ) as client:
        job = await client.jobs.run_and_wait(
            name="async", script="echo a; echo b", poll_interval=0.2
        )
        assert job.status == "completed"
        assert await client.jobs.get_logs(job.id, tail=1) == "b\n"
        assert [line async for line in client.jobs.follow_logs(job.id)] == ["a", "b"]
        assert (await client.jobs.delete(job.id)).deleted
        with pytest.raises(NotFoundError):
            await client.jobs.get(job.id)
        await asyncio.sleep(0)
