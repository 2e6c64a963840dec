"""The warm pool against the real Docker engine: members are started hardened and idle, a claim
hands one to a job with its own limits, env, disk and inputs before its first step, the pool
refills behind it, and a manager restarted after a kill removes the members nobody claimed
while the claimed one stays its job's."""

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import docker
import pytest
from prometheus_client import REGISTRY

from jobyard_contracts import NetworkPolicy, Runtime, SandboxStart, WireNames
from jobyard_logging import get_logger
from jobyard_sandbox_manager.adapters.disks import Disks
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.adapters.inboxes import WAKE_PIPE, Inboxes
from jobyard_sandbox_manager.domain import pool, sandboxes
from jobyard_sandbox_manager.domain.records import Record, parse_record
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.warm_pool import SandboxNames, WarmPool
from jobyard_store import JobDocument, workspaces
from jobyard_testing.factories import make_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

IMAGE = "jobyard/sandbox-minimal:latest"
HOST = "it-pool"
KEY = pool.PoolKey("minimal", Runtime.RUNC, NetworkPolicy.NONE)
INSPECT = r"""
cat /workspace/inputs/data.txt
echo "secret=$SECRET home=$HOME"
echo "uid=$(id -u) caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)"
echo "memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
echo "cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
echo "net=$(ls /sys/class/net | tr '\n' ' ')"
touch /rootfs-write 2>/dev/null || echo "rootfs read-only"
echo "written" > /workspace/out.txt
"""


@dataclass
class Host:
    settings: SandboxManagerSettings
    docker: DockerSandboxes
    disks: Disks
    inboxes: Inboxes
    names: WireNames

    def pool(self) -> WarmPool:
        worker = SimpleNamespace(log=get_logger("warm-pool-test"), names=self.names)
        return WarmPool(worker, self.docker, self.disks, self.inboxes, self.settings, Runtime.RUNC)  # type: ignore[arg-type]


@pytest.fixture
async def host(tmp_path, docker_available) -> AsyncIterator[Host]:
    names = WireNames(f"it-{secrets.token_hex(3)}")
    settings = SandboxManagerSettings(
        host_id=HOST,
        state_dir=tmp_path,
        images={"minimal": IMAGE},
        pool_sizes={"minimal": 2},
        disk_mb=64,
        poll_seconds=0.2,
        runtime=Runtime.RUNC,
        host_cpus=2,
    )
    client = docker.from_env()
    found = Host(
        settings,
        DockerSandboxes(client, "1000:1000"),
        Disks(settings.host_dir / "disks"),
        Inboxes(settings.host_dir / "inboxes"),
        names,
    )
    yield found
    for container in client.containers.list(
        all=True, filters={"label": f"jobyard.namespace={names.namespace}"}
    ):
        container.remove(force=True)
    for key in found.disks.keys(names.namespace):
        found.disks.release(key)


@asynccontextmanager
async def running_pool(host: Host) -> AsyncIterator[WarmPool]:
    """The host's pool, filling in the background, once full; drained at the end."""
    warm = host.pool()
    task = asyncio.create_task(warm.run(lambda: 0))
    try:
        await filled(warm)
        yield warm
    finally:
        task.cancel()
        await warm.drain()


async def filled(warm: WarmPool, count: int = 2, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while warm.idle_members[KEY] < count:
        assert time.monotonic() < deadline, warm.idle_members
        await asyncio.sleep(0.1)


def placed(host: Host) -> JobDocument:
    job = make_job(
        image="minimal",
        network=NetworkPolicy.NONE,
        env={"SECRET": "s3cr3t"},
        resources={"vcpus": 2, "memory_mb": 256},
    )
    return sandboxes.place_container(job, host.names, HOST, Runtime.RUNC, 0).job


async def start_warm(host: Host, warm: WarmPool, job: JobDocument) -> str:
    """What the supervisor does for a job: claim, disk and inputs, start (found), limits."""
    key = workspaces.disk_key(host.names, job)
    assert await warm.claim(job)
    disk = host.disks.ensure(key, 64, (1000, 1000))
    (disk / "workspace" / "inputs").mkdir()
    (disk / "workspace" / "inputs" / "data.txt").write_text("input here\n")
    assert job.container is not None
    spec = sandboxes.container_spec(
        job,
        host.names,
        host.settings.host_policy(Runtime.RUNC),
        disk=disk,
        inbox=host.inboxes.create(job.container.name),
        runner=host.inboxes.runner,
    )
    assert host.docker.ensure_started(spec) is True  # the claimed member, under the job's name
    limits = warm.limits_for(job)
    assert limits is not None  # the job's size is not the pool's
    host.docker.apply_limits(spec.name, limits)
    return spec.name


def records_until_exit(name: str, timeout: float = 30) -> list[Record]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = docker.from_env().api.logs(name, stdout=True, stderr=False, timestamps=True)
        found = [r for r in map(parse_record, raw.splitlines(keepends=True)) if r is not None]
        if any(r.kind == "exit" for r in found):
            return found
        time.sleep(0.1)
    raise TimeoutError(name)


async def test_a_claimed_member_runs_its_job_hardened_with_its_limits_env_and_inputs(host):
    async with running_pool(host) as warm:
        assert REGISTRY.get_sample_value("jobyard_sandboxes", {"host": HOST, "state": "warm"}) == 2
        members = host.docker.pool_members(
            host.names.namespace, HOST, pool.member_prefix(host.names, HOST)
        )
        job = placed(host)
        name = await start_warm(host, warm, job)
        assert name not in members
        assert len(members) == 2
        host.inboxes.request(
            name,
            0,
            INSPECT,
            ["bash", "/run/jobyard/inbox/step-0.sh"],
            sandboxes.step_env(job, SandboxStart.WARM),
            (1000, 1000),
        )
        found = records_until_exit(name)
        output = [r.text for r in found if r.kind == "out"]
        assert output == [
            "input here",
            "secret=s3cr3t home=/home/sandbox",
            "uid=1000 caps=0000000000000000",
            f"memory={256 * 2**20}",
            "cpu=200000",  # an idle member has one cpu
            "net=lo ",
            "rootfs read-only",
        ]
        assert [r.exit_code for r in found if r.kind == "exit"] == [0]
        disk = host.disks.path(workspaces.disk_key(host.names, job))
        assert (disk / "workspace" / "out.txt").read_text() == "written\n"  # seen by file-sync
        await filled(warm)  # refilled behind the claim, with new members
        now = host.docker.pool_members(
            host.names.namespace, HOST, pool.member_prefix(host.names, HOST)
        )
        assert len(now) == 2
        assert name not in now
        # The claimed sandbox is the job's: never handed out again.
        assert await warm.claim(job) is None


async def test_a_restarted_manager_removes_unclaimed_members_and_leaves_claimed_ones(host):
    first = host.pool()
    task = asyncio.create_task(first.run(lambda: 0))
    await filled(first)
    job = placed(host)
    claimed = await start_warm(host, first, job)
    await filled(first)
    task.cancel()  # killed: nothing drains
    prefix = pool.member_prefix(host.names, HOST)
    left = host.docker.pool_members(host.names.namespace, HOST, prefix)
    assert len(left) == 2

    async with running_pool(host):  # the restarted manager's
        for member in left:
            assert host.docker.status(member) is None
            assert not host.disks.exists(member)
        now = host.docker.pool_members(host.names.namespace, HOST, prefix)
        assert len(now) == 2
        assert not set(now) & set(left)
        assert host.disks.keys(prefix) == sorted(now)
        status = host.docker.status(claimed)
        assert status is not None
        assert status.running


async def test_two_claims_for_one_sandbox_hand_over_one_member(host):
    """The claim made while the placement is written and the driver's own meet: one member
    goes to the job, the other claim waits for it and takes none."""
    async with running_pool(host) as warm:
        job = placed(host)
        key = workspaces.disk_key(host.names, job)
        prefix = pool.member_prefix(host.names, HOST)
        before = set(host.docker.pool_members(host.names.namespace, HOST, prefix))
        first, second = await asyncio.gather(warm.claim(job), warm.claim(job))
        assert job.container is not None
        assert [first, second].count(None) == 1
        assert (first or second) == SandboxNames(job.container.name, key)
        after = set(host.docker.pool_members(host.names.namespace, HOST, prefix))
        assert len(before - after) == 1  # one member renamed to the job's; the other idle
        status = host.docker.status(job.container.name)
        assert status is not None
        assert status.running


async def test_an_undone_claim_leaves_nothing_of_the_member(host):
    """A placement that was not written (the job was cancelled meanwhile): the member that
    took the job's names goes, container, inbox and disk."""
    async with running_pool(host) as warm:
        job = placed(host)
        key = workspaces.disk_key(host.names, job)
        claimed = await warm.claim(job)
        assert claimed is not None
        await warm.undo_claim(claimed)
        assert host.docker.status(claimed.name) is None
        assert not host.disks.exists(key)
        assert claimed.name not in host.inboxes.names(claimed.name)


async def test_a_member_that_died_idle_is_replaced_by_a_container_of_the_jobs_own(host):
    async with running_pool(host) as warm:
        job = placed(host)
        key = workspaces.disk_key(host.names, job)
        claimed = await warm.claim(job)
        assert claimed is not None
        docker.from_env().api.kill(claimed.name)  # dead before its job's step came
        disk = host.disks.ensure(key, 64, (1000, 1000))
        spec = sandboxes.container_spec(
            job,
            host.names,
            host.settings.host_policy(Runtime.RUNC),
            disk=disk,
            inbox=host.inboxes.create(claimed.name),
            runner=host.inboxes.runner,
        )
        assert host.docker.ensure_started(spec) is False  # created for the job: cold
        host.inboxes.request(claimed.name, 0, "echo fresh", ["bash", "-c", "echo fresh"])
        found = records_until_exit(claimed.name)
        assert [r.text for r in found if r.kind == "out"] == ["fresh"]


async def test_an_idle_runner_holds_its_wake_up_pipe_open(host):
    """The manager's byte after each request reaches a runner waiting on the pipe: opening it
    for writing without blocking succeeds only while a reader has it open."""
    async with running_pool(host) as warm:
        job = placed(host)
        claimed = await warm.claim(job)
        assert claimed is not None
        pipe = host.settings.host_dir / "inboxes" / claimed.name / WAKE_PIPE
        deadline = time.monotonic() + 10
        while True:  # the member's runner opens it as it starts
            try:
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
                break
            except OSError:
                assert time.monotonic() < deadline, "no runner holds the wake-up pipe"
                await asyncio.sleep(0.1)
        host.inboxes.request(claimed.name, 0, "echo woken", ["bash", "-c", "echo woken"])
        found = records_until_exit(claimed.name)
        assert [r.text for r in found if r.kind == "out"] == ["woken"]
