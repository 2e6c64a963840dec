"""A script job through HTTP, run by separate service processes over RabbitMQ, in Docker."""

import asyncio
import json

import nats
import pytest

from jobyard_testing.jobs import logs, submit, wait_for_status
from jobyard_testing.rabbit import read_history

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

INSPECT_SANDBOX = r"""
if [ -f /sys/fs/cgroup/cpu.max ]; then
  read quota period < /sys/fs/cgroup/cpu.max; memory=$(cat /sys/fs/cgroup/memory.max)
else
  quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)
  period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)
  memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)
fi
echo "cpu=$quota/$period"
echo "memory=$memory"
echo "uid=$(id -u)"
echo "caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)"
echo "interfaces=$(ls /sys/class/net | tr '\n' ' ')"
echo "cwd=$(pwd)"
"""


async def test_a_script_job_completes_with_its_output_in_order(api):
    # stdout and stderr are separate pipes: order is exact within one, and across the two it
    # is the order Docker read them in, so writes to different streams are spaced out here.
    script = "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three"
    job = await submit(api, name="hello", script=script)
    assert job["status"] == "pending"
    assert job["plan"][0]["status"] == "pending"
    done = await wait_for_status(api, job["id"])
    assert done["status"] == "completed", done
    assert done["exit_code"] == 0
    assert done["progress"] == {"current_step": None, "completed_steps": 1, "total_steps": 1}
    output = await logs(api, job["id"])
    assert [(line["stream"], line["text"]) for line in output["lines"]] == [
        ("stdout", "one"),
        ("stderr", "two"),
        ("stdout", "three"),
    ]
    assert output["text"] == "one\ntwo\nthree\n"


async def test_a_failing_script_fails_with_its_exit_code_and_stderr_tail(api):
    script = "echo working; for i in $(seq 1 30); do echo problem $i >&2; done; exit 3"
    job = await submit(api, name="broken", script=script)
    done = await wait_for_status(api, job["id"])
    assert (done["status"], done["exit_code"], done["reason"]) == (
        "failed",
        3,
        "non-zero exit code",
    )
    tail = done["stderr_tail"].splitlines()
    assert tail == [f"problem {i}" for i in range(11, 31)]


async def test_tail_returns_exactly_the_last_n_lines(api):
    job = await submit(api, name="counting", script="for i in $(seq 1 250); do echo line $i; done")
    await wait_for_status(api, job["id"], {"completed"})
    last = await logs(api, job["id"], tail=7)
    assert [line["text"] for line in last["lines"]] == [f"line {i}" for i in range(244, 251)]
    assert [line["seq"] for line in last["lines"]] == list(range(244, 251))
    assert len((await logs(api, job["id"]))["lines"]) == 250
    assert (await logs(api, job["id"], after_seq=248))["text"] == "line 249\nline 250\n"


async def test_limits_user_capabilities_and_network_are_applied_inside_the_sandbox(api):
    job = await submit(api, name="inspect", script=INSPECT_SANDBOX, vcpus=1, memory_mb=256)
    await wait_for_status(api, job["id"], {"completed"})
    seen = dict(line.split("=", 1) for line in (await logs(api, job["id"]))["text"].splitlines())
    quota, period = seen["cpu"].split("/")
    assert int(quota) == int(period)  # exactly one core
    assert int(seen["memory"]) == 256 * 1024 * 1024
    assert seen["uid"] == "1000"
    assert int(seen["caps"], 16) == 0
    assert seen["interfaces"].split() == ["lo"]
    assert seen["cwd"] == "/workspace"


async def test_env_reaches_the_script(api):
    job = await submit(
        api, name="env", script='echo "$GREETING $WHO"', env={"GREETING": "hi", "WHO": "there"}
    )
    await wait_for_status(api, job["id"], {"completed"})
    assert (await logs(api, job["id"]))["text"] == "hi there\n"
    assert (await api.get(f"/v1/jobs/{job['id']}")).json()["env_keys"] == ["GREETING", "WHO"]


async def test_exceeding_the_timeout_fails_the_job_with_reason_timeout(api):
    job = await submit(api, name="slow", script="echo start; sleep 60", timeout=2)
    done = await wait_for_status(api, job["id"], timeout=60)
    assert (done["status"], done["reason"]) == ("failed", "timeout")
    assert (await logs(api, job["id"]))["text"] == "start\n"


async def test_allocating_past_memory_fails_with_reason_out_of_memory(api):
    script = "python3 -c 'blocks = [bytearray(16 * 2**20) for _ in range(40)]'"
    job = await submit(api, name="hungry", script=script, memory_mb=64)
    done = await wait_for_status(api, job["id"])
    assert (done["status"], done["reason"]) == ("failed", "out of memory")


async def test_every_event_is_retained_in_order_in_the_history_stream(stack, api):
    job = await submit(api, name="history", script="true")
    await wait_for_status(api, job["id"], {"completed"})
    history = await read_history(
        "amqp://guest:guest@127.0.0.1:5672/", f"{stack.namespace}.history", job["id"], 17
    )
    history.sort(key=lambda m: m["sequence"])
    assert [m["sequence"] for m in history] == list(range(1, 18))
    assert [m["type"] for m in history] == [
        "job.submitted",
        "job.admitted",
        "job.step.dispatched",
        "sandbox.run-step",
        "sandbox.started",
        "job.started",
        "job.step.started",
        "files.sync",  # the step's end waits for its outputs (here: its script)
        "file.ready",
        "files.synced",
        "sandbox.exited",
        "job.step.finished",
        "job.completed",
        "sandbox.release",
        "files.sync",  # the final sync: the execution log
        "file.ready",
        "files.synced",
    ]
    assert len({m["correlation_id"] for m in history}) == 1


async def test_log_lines_are_published_live_on_nats(stack, api):
    client = await nats.connect("nats://127.0.0.1:4222")
    received: list[dict] = []

    async def collect(msg) -> None:
        received.append(json.loads(msg.data))

    subscription = await client.subscribe(f"{stack.namespace}.jobs.*.logs", cb=collect)
    job = await submit(api, name="live", script="for i in 1 2 3; do echo live $i; sleep 0.3; done")
    await wait_for_status(api, job["id"], {"completed"})
    await asyncio.sleep(0.5)
    await subscription.unsubscribe()
    await client.close()
    lines = [line["text"] for m in received if m["job_id"] == job["id"] for line in m["lines"]]
    assert lines == ["live 1", "live 2", "live 3"]


async def test_a_users_fourth_job_waits_for_a_free_slot(stack, api):
    key = stack.new_user("queue-tester")
    api.headers["Authorization"] = f"Bearer {key}"
    jobs = [await submit(api, name=f"q{i}", script="sleep 3") for i in range(4)]
    running = [await wait_for_status(api, j["id"], {"running"}) for j in jobs[:3]]
    assert all(j["status"] == "running" for j in running)
    assert (await api.get(f"/v1/jobs/{jobs[3]['id']}")).json()["status"] == "pending"
    done = await wait_for_status(api, jobs[3]["id"], timeout=60)
    assert done["status"] == "completed"
