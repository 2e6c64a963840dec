"""Kill a service with SIGKILL mid-job: the job still ends right, logs whole and in order."""

import asyncio

import pytest

from jobyard_testing.jobs import logs, submit, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

COUNT_SLOWLY = "for i in $(seq 1 40); do echo line $i; sleep 0.1; done; echo oops >&2"


async def wait_for_lines(api, job_id, count, timeout=30):
    for _ in range(int(timeout / 0.1)):
        if len((await logs(api, job_id))["lines"]) >= count:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"fewer than {count} lines")


async def test_sandbox_manager_killed_mid_job_resumes_its_output(stack, api):
    job = await submit(api, name="survivor", script=COUNT_SLOWLY)
    await wait_for_lines(api, job["id"], 5)
    stack.kill("sandbox-manager")
    await asyncio.sleep(1)
    stack.start("sandbox-manager")
    done = await wait_for_status(api, job["id"], timeout=60)
    assert done["status"] == "completed", done
    lines = (await logs(api, job["id"]))["lines"]
    assert [line["text"] for line in lines] == [f"line {i}" for i in range(1, 41)] + ["oops"]
    assert [line["seq"] for line in lines] == list(range(1, 42))


async def test_sandbox_manager_down_while_the_job_ends_still_records_the_exit(stack, api):
    job = await submit(api, name="ends-alone", script="echo a; sleep 1; echo b; exit 4")
    await wait_for_status(api, job["id"], {"running"})
    stack.kill("sandbox-manager")
    await asyncio.sleep(2.5)  # the container exits while nobody watches
    stack.start("sandbox-manager")
    done = await wait_for_status(api, job["id"], timeout=60)
    assert (done["status"], done["exit_code"]) == ("failed", 4)
    assert (await logs(api, job["id"]))["text"] == "a\nb\n"


async def test_agent_killed_mid_job_picks_up_the_queued_events(stack, api):
    job = await submit(api, name="agentless", script="sleep 1; echo done")
    await wait_for_status(api, job["id"], {"running"})
    stack.kill("agent")
    await asyncio.sleep(2)  # sandbox.exited waits in the agent's durable queue
    assert (await api.get(f"/v1/jobs/{job['id']}")).json()["status"] == "running"
    stack.start("agent")
    done = await wait_for_status(api, job["id"], timeout=60)
    assert done["status"] == "completed"
    assert (await logs(api, job["id"]))["text"] == "done\n"


async def test_scheduler_killed_before_admission_admits_on_restart(stack, api):
    stack.kill("scheduler")
    job = await submit(api, name="unadmitted", script="echo admitted")
    await asyncio.sleep(1)
    assert (await api.get(f"/v1/jobs/{job['id']}")).json()["status"] == "pending"
    stack.start("scheduler")
    done = await wait_for_status(api, job["id"], timeout=60)
    assert done["status"] == "completed"
