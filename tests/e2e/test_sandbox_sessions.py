"""One sandbox per job: steps share it; pause freezes it with its memory; resume, cancel; a
session budget; hibernation; every service killed with SIGKILL at awkward moments."""

import asyncio
import os
import time

import pytest
from pymongo import AsyncMongoClient

from jobyard_testing.jobs import logs, user_client, wait_for_status, wait_until_job
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# A counter loop in the background and a Python process holding a dict in memory, both started
# in step 1 and read back in step 2: the processes, their memory and the files carry over.
STEP_ONE = r"""
pip --version >/dev/null 2>&1; mkdir -p ~/.local/lib/marker && echo kept > ~/.local/lib/marker/f
(i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.05; done) &
python3 - <<'PY' &
import os, time
table = {i: str(i) * 8 for i in range(200_000)}
while True:
    with open("/tmp/dict.partial", "w") as f:
        f.write(f"{len(table)} {table[199_999]} {os.getpid()}")
    os.replace("/tmp/dict.partial", "/tmp/dict")
    time.sleep(0.05)
PY
echo started > /workspace/state
sleep 0.5; echo step one done
"""
STEP_TWO = r"""
cat /workspace/state; cat ~/.local/lib/marker/f; cat /tmp/dict; echo; sleep 0.3
echo "counter $(cat /tmp/counter)"
"""


async def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise TimeoutError("condition not met")


async def submit_steps(api, name, *scripts, **extra):
    steps = [{"title": f"step {i}", "script": s} for i, s in enumerate(scripts)]
    response = await api.post("/v1/jobs", json={"name": name, "steps": steps, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def job_of(api, job_id):
    return (await api.get(f"/v1/jobs/{job_id}")).json()


async def test_steps_share_one_sandbox_with_files_processes_and_user_packages(api):
    job = await submit_steps(api, "shared", STEP_ONE, STEP_TWO, image="minimal")
    done = await wait_for_status(api, job["id"], timeout=90)
    assert done["status"] == "completed", done
    text = (await logs(api, job["id"]))["text"].splitlines()
    assert text[:4] == ["step one done", "started", "kept", text[3]]
    assert text[3].startswith("200000 199999199999199999")
    assert int(text[4].split()[1]) > 5  # the loop from step 1 kept counting during step 2
    assert [s["status"] for s in done["plan"]] == ["completed", "completed"]
    assert done["sandbox"]["generation"] == 1


async def test_pause_freezes_processes_and_memory_and_resume_continues_them(api):
    job = await submit_steps(api, "frozen", STEP_ONE + "\nsleep 30", image="minimal")
    await wait_until(lambda: _log_contains(api, job["id"], "step one done"))
    response = await api.post(f"/v1/jobs/{job['id']}/pause")
    assert response.status_code == 200, response.text
    paused = response.json()
    assert (paused["status"], paused["paused"]["by"]) == ("paused", "user")
    assert paused["paused"]["reason"] == "paused by user"
    again = await api.post(f"/v1/jobs/{job['id']}/pause")  # idempotent
    assert (again.status_code, again.json()["status"]) == (200, "paused")
    assert (await api.post(f"/v1/jobs/{job['id']}/resume")).status_code == 200
    resumed = await wait_for_status(api, job["id"], {"running"})
    assert resumed["paused"] is None


async def _log_contains(api, job_id, text):
    return text in (await logs(api, job_id))["text"]


async def test_a_paused_sandbox_really_stops_and_continues_where_it_was(api):
    probe = (
        STEP_ONE
        + r"""
for i in $(seq 1 100); do
  echo "tick $(cat /tmp/counter) $(cut -d' ' -f1 /tmp/dict)"; sleep 0.1
done
"""
    )
    job = await submit_steps(api, "ticks", probe, image="minimal")
    await wait_until(lambda: _log_contains(api, job["id"], "tick"))
    await api.post(f"/v1/jobs/{job['id']}/pause")
    before = await settled_lines(api, job["id"])  # output from before the freeze has arrived
    await asyncio.sleep(2)
    assert (await logs(api, job["id"]))["lines"] == before  # nothing ran while paused
    last_tick = int(before[-1]["text"].split()[1])
    await api.post(f"/v1/jobs/{job['id']}/resume")
    await wait_until(lambda: _more_lines(api, job["id"], len(before) + 3))
    after = (await logs(api, job["id"]))["lines"][len(before)]
    counter = int(after["text"].split()[1])
    # The counter continues from its frozen value (not from 0, and not 40 ticks on).
    assert last_tick <= counter <= last_tick + 10
    assert after["text"].split()[2] == "200000"  # the dict is still in the process's memory
    await api.post(f"/v1/jobs/{job['id']}/cancel")


async def settled_lines(api, job_id, quiet=1.0, timeout=15.0):
    """The job's lines once none has arrived for `quiet` seconds (on a loaded machine, lines
    written just before a freeze can take a while to be stored)."""
    deadline = time.monotonic() + timeout
    lines = (await logs(api, job_id))["lines"]
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        again = (await logs(api, job_id))["lines"]
        if again == lines:
            return lines
        lines = again
    raise TimeoutError(f"output of {job_id} still growing after {timeout}s")


async def _more_lines(api, job_id, count):
    return len((await logs(api, job_id))["lines"]) >= count


async def test_pause_and_resume_of_the_wrong_state_or_user_are_refused(api, stack):
    job = await submit_steps(api, "states", "echo hi", image="minimal")
    done = await wait_for_status(api, job["id"])
    for action in ("pause", "resume", "cancel"):
        response = await api.post(f"/v1/jobs/{job['id']}/{action}")
        assert response.status_code == 409, response.text
        assert "completed" in response.json()["detail"]
    running = await submit_steps(api, "running", "sleep 20", image="minimal")
    await wait_for_status(api, running["id"], {"running"})
    response = await api.post(f"/v1/jobs/{running['id']}/resume")
    assert (response.status_code, response.json()["status"]) == (200, "running")  # a no-op
    other = stack.new_user(f"intruder-{time.monotonic_ns()}")
    headers = {"Authorization": f"Bearer {other}"}
    for action in ("pause", "resume", "cancel"):
        response = await api.post(f"/v1/jobs/{running['id']}/{action}", headers=headers)
        assert response.status_code == 404
    assert done["status"] == "completed"
    cancelled = (await api.post(f"/v1/jobs/{running['id']}/cancel")).json()
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "cancelled by user")


async def test_cancelling_a_paused_job_keeps_its_output(api):
    job = await submit_steps(
        api, "cancel-paused", "echo kept; sleep 30", "echo never", image="minimal"
    )
    await wait_until(lambda: _log_contains(api, job["id"], "kept"))
    assert (await api.post(f"/v1/jobs/{job['id']}/pause")).json()["status"] == "paused"
    cancelled = (await api.post(f"/v1/jobs/{job['id']}/cancel")).json()
    assert cancelled["status"] == "cancelled"
    assert [s["status"] for s in cancelled["plan"]] == ["failed", "pending"]
    assert (await logs(api, job["id"]))["text"] == "kept\n"


async def test_a_session_that_uses_its_budget_pauses_and_resume_starts_a_new_one(api):
    script = "for i in $(seq 1 40); do echo $i; sleep 0.1; done"
    job = await submit_steps(api, "budget", script, image="minimal", session_seconds=2)
    paused = await wait_for_status(api, job["id"], {"paused", "completed"}, timeout=60)
    assert paused["status"] == "paused", paused
    assert (paused["paused"]["by"], paused["paused"]["reason"]) == ("system", "session limit")
    await asyncio.sleep(1.5)  # paused time does not count against the next session
    await api.post(f"/v1/jobs/{job['id']}/resume")
    # The resume is granted asynchronously (a slot, then the sandbox): until then it is paused
    # in session 1, so wait for the second session itself.
    again = await wait_until_job(
        api, job["id"], lambda j: j["sandbox"]["session"] == 2 or j["status"] == "completed", 60
    )
    assert again["sandbox"]["session"] == 2
    again = await wait_for_status(api, job["id"], {"paused", "completed"}, timeout=60)
    while again["status"] == "paused":
        await api.post(f"/v1/jobs/{job['id']}/resume")
        again = await wait_for_status(api, job["id"], {"paused", "completed"}, timeout=60)
    assert (await logs(api, job["id"]))["text"] == "".join(f"{i}\n" for i in range(1, 41))


async def test_a_paused_job_frees_its_slot_and_a_resume_waits_for_one(stack):
    async with user_client(stack, "slots") as api:
        first = await submit_steps(api, "first", "sleep 60", image="minimal")
        await wait_for_status(api, first["id"], {"running"})
        await api.post(f"/v1/jobs/{first['id']}/pause")
        others = [await submit_steps(api, f"o{i}", "sleep 60", image="minimal") for i in range(3)]
        for other in others:  # the paused job's slot went to the third of them
            await wait_for_status(api, other["id"], {"running"}, timeout=60)
        resumed = (await api.post(f"/v1/jobs/{first['id']}/resume")).json()
        assert resumed["status"] == "paused"
        assert resumed["status_detail"].startswith("resume queued")
        await api.post(f"/v1/jobs/{others[0]['id']}/cancel")
        await wait_for_status(api, first["id"], {"running"}, timeout=30)
        for job in [first, *others[1:]]:
            await api.post(f"/v1/jobs/{job['id']}/cancel")


@pytest.fixture
async def jobs(stack):
    """The stack's job documents, read and changed directly."""
    mongo = AsyncMongoClient(stack.env["JOBYARD_MONGODB_URL"], tz_aware=True)
    yield mongo[stack.namespace]["jobs"]
    await mongo.close()


async def paused_in_its_second_step(api, name):
    """A two-step job paused while its second step runs; that step, re-run, prints twice."""
    job = await submit_steps(
        api,
        name,
        "echo one >> /workspace/runs",
        "echo two >> /workspace/runs; sleep 3; cat /workspace/runs",
        image="minimal",
    )
    await wait_until(lambda: _step_running(api, job["id"], 1))
    assert (await api.post(f"/v1/jobs/{job['id']}/pause")).json()["status"] == "paused"
    return job


async def test_a_long_pause_hibernates_and_resume_reruns_the_interrupted_step(api, jobs):
    job = await paused_in_its_second_step(api, "sleepy")
    # Pretend the pause began a day ago: the watchdog hibernates it within a second.
    hibernated = await _backdate_pause(jobs, job["id"])
    assert hibernated
    await wait_until(lambda: _container_state(jobs, job["id"], "hibernated"))
    resumed = (await api.post(f"/v1/jobs/{job['id']}/resume")).json()
    done = await wait_for_status(api, job["id"], timeout=90)
    assert done["status"] == "completed", (resumed, done)
    assert done["sandbox"]["generation"] == 2
    assert (await logs(api, job["id"]))["text"].endswith("one\ntwo\ntwo\n")


async def _step_running(api, job_id, index):
    return (await job_of(api, job_id))["plan"][index]["status"] == "running"


async def _backdate_pause(jobs, job_id):
    from datetime import UTC, datetime, timedelta

    day_ago = datetime.now(UTC) - timedelta(days=2)
    result = await jobs.update_one(
        {"_id": job_id, "status": "paused"}, {"$set": {"pause.at": day_ago}}
    )
    return result.modified_count == 1


async def _container_state(jobs, job_id, state):
    doc = await jobs.find_one({"_id": job_id})
    return doc and doc.get("container", {}).get("state") == state


@pytest.mark.parametrize("service", ["sandbox-manager", "scheduler", "agent", "gateway"])
async def test_pause_and_resume_survive_any_service_killed(stack: Stack, api, service):
    job = await submit_steps(
        api,
        f"kill-{service}",
        "for i in $(seq 1 30); do echo $i; sleep 0.1; done",
        "echo end",
        image="minimal",
    )
    await wait_until(lambda: _log_contains(api, job["id"], "3\n"))
    await api.post(f"/v1/jobs/{job['id']}/pause")
    stack.kill(service)
    await asyncio.sleep(0.5)
    stack.start(service)
    assert (await job_of(api, job["id"]))["status"] == "paused"
    await api.post(f"/v1/jobs/{job['id']}/resume")
    stack.kill(service)
    await asyncio.sleep(0.5)
    stack.start(service)
    done = await wait_for_status(api, job["id"], timeout=90)
    assert done["status"] == "completed", done
    lines = (await logs(api, job["id"]))["lines"]
    assert [line["text"] for line in lines] == [str(i) for i in range(1, 31)] + ["end"]
    assert [line["seq"] for line in lines] == list(range(1, 32))


def restart_docker_daemon() -> None:
    """Stop Docker's daemon and start it again the way `scripts/stack.sh` does."""
    import subprocess

    subprocess.run(["pkill", "-TERM", "-x", "dockerd"], check=False)
    for _ in range(300):
        if subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    log = open(os.environ.get("JOBYARD_DOCKERD_LOG", "/tmp/dockerd-restart.log"), "ab")  # noqa: SIM115
    subprocess.Popen(
        ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    for _ in range(300):
        if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            return
        time.sleep(0.2)
    raise RuntimeError("dockerd did not come back")


@pytest.mark.timeout(300)
async def test_a_paused_job_survives_a_docker_daemon_restart(api, jobs):
    job = await paused_in_its_second_step(api, "daemon")
    await asyncio.to_thread(restart_docker_daemon)
    # The container died with the daemon: the job is kept as hibernated, its disk intact.
    await wait_until(lambda: _container_state(jobs, job["id"], "hibernated"), timeout=60)
    assert (await job_of(api, job["id"]))["status"] == "paused"
    await api.post(f"/v1/jobs/{job['id']}/resume")
    done = await wait_for_status(api, job["id"], timeout=90)
    assert done["status"] == "completed", done
    assert (await logs(api, job["id"]))["text"].endswith("one\ntwo\ntwo\n")


async def test_a_manager_killed_while_pausing_pauses_once_restarted(stack: Stack, api):
    job = await submit_steps(
        api, "pausing", "for i in $(seq 1 40); do echo $i; sleep 0.1; done", image="minimal"
    )
    await wait_until(lambda: _log_contains(api, job["id"], "2\n"))
    pausing = asyncio.create_task(api.post(f"/v1/jobs/{job['id']}/pause"))
    await asyncio.sleep(0.05)
    stack.kill("sandbox-manager")  # the pause command is unacknowledged or half done
    await pausing
    stack.start("sandbox-manager")
    paused = await wait_for_status(api, job["id"], {"paused"}, timeout=30)
    assert paused["paused"]["by"] == "user"
    await api.post(f"/v1/jobs/{job['id']}/resume")
    done = await wait_for_status(api, job["id"], timeout=60)
    assert done["status"] == "completed"
    lines = (await logs(api, job["id"]))["lines"]
    assert [line["text"] for line in lines] == [str(i) for i in range(1, 41)]
