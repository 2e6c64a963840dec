"""The warm pool through the whole stack: a quick job starts in a sandbox its host started in
advance (and says so), with its own limits and env; a pooled sandbox serves exactly one job;
jobs the pool cannot serve start cold; a sandbox-manager killed with SIGKILL leaves no
unclaimed pool sandbox behind to serve anyone."""

import asyncio
import re
import subprocess
import time

import pytest

from jobyard_testing.jobs import logs, submit, wait_for_status
from jobyard_testing.polling import eventually
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

HOST = "host-a"  # the suite's main host (runc): it keeps the default pools
SHOW_SANDBOX = r"""
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
echo "uid=$(id -u) caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)"
echo "net=$(ls /sys/class/net | tr '\n' ' ')"
echo "secret=$SECRET"
"""
CONTAINER_ID = r"grep -o 'docker/[0-9a-f]\{64\}' /proc/self/cgroup | head -1"


def pool_members(stack: Stack) -> dict[str, str]:
    """This host's idle pool sandboxes: name -> container id."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            f"label=jobyard.namespace={stack.namespace}",
            "--filter",
            "label=jobyard.pool",
            "--format",
            "{{.Names}} {{.ID}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = f"{stack.namespace}-pool-{HOST}-"
    pairs = (line.split() for line in out.splitlines())
    return {name: cid for name, cid in pairs if name.startswith(prefix)}


def minimal_members(stack: Stack) -> dict[str, str]:
    names = pool_members(stack)
    labels = subprocess.run(
        ["docker", "inspect", "--format", '{{index .Config.Labels "jobyard.pool"}}', *names],
        capture_output=True,
        text=True,
    ).stdout.split()
    return {
        n: cid
        for (n, cid), label in zip(names.items(), labels, strict=False)
        if label.startswith("minimal.")
    }


async def pool_filled(stack: Stack, count: int = 2, timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        members = minimal_members(stack)
        if len(members) >= count:
            return members
        await asyncio.sleep(0.2)
    raise TimeoutError(f"pool not filled: {pool_members(stack)}")


async def test_a_quick_job_starts_warm_with_its_own_limits_and_env(stack, api):
    await pool_filled(stack)
    job = await submit(
        api,
        name="warm",
        script=SHOW_SANDBOX,
        image="minimal",
        vcpus=2,
        memory_mb=300,
        env={"SECRET": "s3"},
    )
    done = await wait_for_status(api, job["id"])
    assert done["status"] == "completed", done
    assert done["sandbox"]["start"] == "warm"
    assert (await logs(api, job["id"]))["text"].splitlines() == [
        f"memory={300 * 2**20}",
        "cpu=200000",
        "uid=1000 caps=0000000000000000",
        "net=lo ",
        "secret=s3",
    ]


async def test_a_pooled_sandbox_serves_exactly_one_job(stack, api):
    before = await pool_filled(stack)
    script = f"ls -A /workspace /tmp; touch /workspace/mine /tmp/mine; {CONTAINER_ID}"
    jobs = [await submit(api, name=f"one-{i}", script=script, image="minimal") for i in range(4)]
    done = [await wait_for_status(api, job["id"]) for job in jobs]
    assert [d["status"] for d in done] == ["completed"] * 4
    assert {d["sandbox"]["start"] for d in done} <= {"warm", "cold"}
    assert any(d["sandbox"]["start"] == "warm" for d in done)
    outputs = [(await logs(api, job["id"]))["text"] for job in jobs]
    # Each job found its workspace and /tmp empty: nothing of any earlier job.
    assert all("mine" not in text for text in outputs), outputs
    ids = [re.search(r"docker/([0-9a-f]{64})", text).group(1) for text in outputs]  # type: ignore[union-attr]
    assert len(set(ids)) == 4  # four sandboxes for four jobs
    assert set(ids) & set(before.values())  # the warm ones came from the pool...
    await asyncio.sleep(1)
    assert not set(ids) & set(pool_members(stack).values())  # ...and never went back to it


async def test_jobs_the_pool_cannot_serve_start_cold(stack, api):
    await pool_filled(stack)
    cold = [
        await submit(api, name="stateful-ws", script="echo s", image="minimal", stateful=True),
        await submit(api, name="online", script="echo n", image="minimal", network="internet"),
        await submit(api, name="big-disk", script="echo d", image="minimal", disk_mb=2048),
    ]
    for job in cold:
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done
        assert done["sandbox"]["start"] == "cold", done["name"]


async def test_a_killed_manager_leaves_no_unclaimed_pool_sandbox_behind(stack, api):
    before = await pool_filled(stack)
    stack.kill("sandbox-manager")
    await asyncio.sleep(0.5)
    assert set(minimal_members(stack)) >= set(before)  # left behind by the kill...
    stack.start("sandbox-manager")
    await eventually(lambda: not set(pool_members(stack)) & set(before), timeout=60)
    after = await pool_filled(stack)  # ...removed on restart, and replaced by new ones
    assert not set(after) & set(before)
    job = await submit(api, name="after-kill", script=CONTAINER_ID, image="minimal")
    done = await wait_for_status(api, job["id"])
    assert (done["status"], done["sandbox"]["start"]) == ("completed", "warm")
    served_by = (await logs(api, job["id"]))["text"].strip().removeprefix("docker/")
    assert served_by not in before.values()
