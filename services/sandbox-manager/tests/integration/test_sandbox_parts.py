"""The sandbox-manager's parts against the real Docker engine: a job disk with a hard size, the
runner in a real sandbox (steps from its inbox, records on Docker's log, processes kept between
steps), freezing and thawing, and the cgroup counters that name an end reason."""

import secrets
import time

import docker
import pytest

from jobyard_contracts import JobStatus, NetworkPolicy, Runtime, WireNames
from jobyard_sandbox_manager.adapters.disks import Disks
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.adapters.inboxes import Inboxes
from jobyard_sandbox_manager.domain import sandboxes
from jobyard_sandbox_manager.domain.records import parse_record
from jobyard_store import workspaces
from jobyard_testing.factories import make_job

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

IMAGE = "jobyard/sandbox-minimal:latest"


@pytest.fixture
def parts(tmp_path, docker_available):
    client = docker.from_env()
    disks, inboxes = Disks(tmp_path / "disks"), Inboxes(tmp_path / "inboxes")
    created: list[tuple[str, str]] = []
    docker_sandboxes = DockerSandboxes(client, "1000:1000")
    yield docker_sandboxes, disks, inboxes, created
    for name, key in created:
        docker_sandboxes.remove(name)
        docker_sandboxes.remove_volume(key)
        disks.release(key)


def start_sandbox(parts, *, memory_mb=256, pids=64, disk_mb=64):
    docker_sandboxes, disks, inboxes, created = parts
    names = WireNames(f"it-{secrets.token_hex(3)}")
    job = make_job(
        image="minimal",
        status=JobStatus.RUNNING,
        network=NetworkPolicy.NONE,
        resources={"vcpus": 1, "memory_mb": memory_mb, "disk_mb": disk_mb},
    )
    job = sandboxes.place_container(job, names, "it", Runtime.RUNC, 0).job
    policy = sandboxes.HostPolicy(
        host_cpus=1,
        pids_limit=pids,
        images={"minimal": IMAGE},
        networks={NetworkPolicy.NONE: "none", NetworkPolicy.INTERNET: "none"},
        persistent_network="none",
        runtime=Runtime.RUNC,
        sandbox_user="1000:1000",
        default_disk_mb=64,
    )
    key = workspaces.disk_key(names, job)
    created.append((job.container.name, key))
    disk = disks.ensure(key, disk_mb, (1000, 1000))
    inbox = inboxes.create(job.container.name)
    spec = sandboxes.container_spec(
        job, names, policy, disk=disk, inbox=inbox, runner=inboxes.runner
    )
    docker_sandboxes.ensure_started(spec)
    return job.container.name, key, disk


def ask(inboxes, name, step, script):
    inboxes.request(name, step, script, ["bash", f"/run/jobyard/inbox/step-{step}.sh"])


def records_of(docker_sandboxes, name, until, timeout=30):
    """Records so far, waiting until `until(records)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = docker.from_env().api.logs(name, stdout=True, stderr=False, timestamps=True)
        found = [parse_record(line) for line in raw.splitlines(keepends=True)]
        found = [r for r in found if r is not None]
        if until(found):
            return found
        time.sleep(0.1)
    raise TimeoutError(f"records of {name}: {found}")


def exits(records):
    return {r.step: r.exit_code for r in records if r.kind == "exit"}


def test_the_runner_runs_each_step_once_in_order_and_keeps_processes_between_them(parts):
    docker_sandboxes, _, inboxes, _ = parts
    name, _, disk = start_sandbox(parts)
    ask(inboxes, name, 0, "sleep 300 & echo $! > /tmp/bg; echo one; echo err >&2")
    first = records_of(docker_sandboxes, name, lambda r: 0 in exits(r))
    ask(inboxes, name, 0, "echo again")  # a repeat
    ask(inboxes, name, 1, "kill -0 $(cat /tmp/bg) && echo alive; exit 3")
    both = records_of(docker_sandboxes, name, lambda r: 1 in exits(r))
    assert exits(first) == {0: 0}
    assert exits(both) == {0: 0, 1: 3}
    lines = [(r.step, r.stream, r.number, r.text) for r in both if r.kind == "out"]
    assert lines == [(0, "stdout", 1, "one"), (0, "stderr", 2, "err"), (1, "stdout", 3, "alive")]
    assert (disk / "tmp" / "bg").exists()  # /tmp is on the job's disk, seen from the host


def test_a_job_disk_stops_writes_at_its_size(parts):
    docker_sandboxes, disks, inboxes, _ = parts
    name, key, _ = start_sandbox(parts, disk_mb=64)
    ask(inboxes, name, 0, "dd if=/dev/zero of=/workspace/f bs=1M count=200")
    found = records_of(docker_sandboxes, name, lambda r: 0 in exits(r))
    assert exits(found)[0] != 0
    assert any("No space left on device" in r.text for r in found if r.kind == "out")
    assert disks.free_bytes(key) < 4 * 2**20


def test_freezing_stops_every_process_and_thawing_continues_them(parts):
    docker_sandboxes, _, inboxes, _ = parts
    name, _, disk = start_sandbox(parts)
    ask(inboxes, name, 0, "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.05; done")
    time.sleep(1)
    docker_sandboxes.freeze(name)
    frozen_at = (disk / "tmp" / "n").read_text()
    time.sleep(1)
    assert (disk / "tmp" / "n").read_text() == frozen_at
    assert docker_sandboxes.status(name).paused
    docker_sandboxes.thaw(name)
    time.sleep(0.5)
    assert int((disk / "tmp" / "n").read_text()) > int(frozen_at)


def test_cgroup_counters_see_an_oom_kill_and_a_refused_fork(parts):
    docker_sandboxes, _, inboxes, _ = parts
    name, _, _ = start_sandbox(parts, memory_mb=64, pids=32)
    before = docker_sandboxes.counters(name)
    ask(inboxes, name, 0, "python3 -c 'x = bytearray(200 * 2**20)'")
    ask(inboxes, name, 1, "python3 -c 'import os\nwhile True: os.fork()'")
    records_of(docker_sandboxes, name, lambda r: 1 in exits(r), timeout=60)
    after = docker_sandboxes.counters(name)
    assert after.oom_kills > before.oom_kills
    assert after.pids_limit_hits > before.pids_limit_hits
