from datetime import UTC, datetime

import pytest

from jobyard_contracts import (
    FailureReason,
    NetworkPolicy,
    Resources,
    RunStep,
    SandboxExited,
    SandboxStarted,
    WireNames,
)
from jobyard_sandbox_manager.domain import runs
from jobyard_sandbox_manager.domain.log_lines import in_time_order, parse_frame
from jobyard_store import SandboxState, SshEndpoint
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit
NAMES = WireNames("ns")


def run_step(index=0):
    return RunStep(
        step_index=index, image="img", script="true", resources=Resources(vcpus=1, memory_mb=64)
    )


def test_a_run_is_accepted_claimed_started_and_exited_once_each():
    job = runs.accept_run(make_job(), run_step()).job
    assert runs.accept_run(job, run_step()) is None
    job = runs.claim_run(job, "host-a", "c").job
    assert runs.claim_run(job, "host-b", "c") is None
    change = runs.record_started(job)
    assert [type(e) for e in change.events] == [SandboxStarted]
    assert runs.record_started(change.job) is None
    change = runs.record_exited(change.job, 0, None, "")
    assert change.job.sandbox.state is SandboxState.EXITED
    assert [type(e) for e in change.events] == [SandboxExited]
    assert runs.record_exited(change.job, 0, None, "") is None


def test_exit_reasons():
    assert runs.classify_exit(0, oom_killed=False, killed_for_timeout=False) is None
    assert (
        runs.classify_exit(2, oom_killed=False, killed_for_timeout=False) is FailureReason.EXIT_CODE
    )
    assert (
        runs.classify_exit(137, oom_killed=True, killed_for_timeout=False)
        is FailureReason.OUT_OF_MEMORY
    )
    assert (
        runs.classify_exit(137, oom_killed=False, killed_for_timeout=True) is FailureReason.TIMEOUT
    )


HOST = runs.HostPolicy(
    host_cpus=2,
    pids_limit=100,
    images={"jobyard/sandbox-minimal:latest": "ref-min", "base": "ref-base"},
    networks={NetworkPolicy.NONE: "none", NetworkPolicy.INTERNET: "host"},
    persistent_network="host",
)


def spec_of(job, ssh=None):
    job = runs.claim_run(runs.accept_run(job, run_step()).job, "h", "c", ssh).job
    return runs.container_spec(job, NAMES, HOST)


def test_container_spec_carries_limits_and_caps_vcpus_at_the_host():
    job = make_job(resources=Resources(vcpus=8, memory_mb=300), env={"A": "1"})
    spec = spec_of(job)
    assert spec.nano_cpus == 2_000_000_000
    assert spec.memory_bytes == 300 * 1024 * 1024
    assert spec.env == {"A": "1"}
    assert spec.name == f"ns-{job.id}-step0"
    assert spec.labels["jobyard.namespace"] == "ns"
    assert spec.command == ["bash", "-c", "echo 0"]
    assert spec.network_mode == "none"
    assert spec.image == "ref-min"
    assert spec.workspace_volume == f"ns-{job.id}-workspace"


def test_the_network_policy_picks_the_network_and_unknown_images_are_refused():
    assert spec_of(make_job(network=NetworkPolicy.INTERNET)).network_mode == "host"
    assert spec_of(make_job(image="base")).image == "ref-base"
    with pytest.raises(runs.UnknownImageError, match="'gpu'"):
        spec_of(make_job(image="gpu"))


def test_a_stateful_workspace_belongs_to_the_owner_and_name():
    one, two = make_job(stateful=True, name="cache"), make_job(stateful=True, name="cache")
    assert spec_of(one).workspace_volume == spec_of(two).workspace_volume == "ns-ws-usr_test-cache"
    assert spec_of(make_job(stateful=True, name="cache", user_id="other")).workspace_volume != (
        spec_of(one).workspace_volume
    )


def test_a_persistent_job_runs_behind_the_ssh_entrypoint_on_its_network():
    ssh = SshEndpoint(host="127.0.0.1", port=40022, username="sandbox")
    job = make_job(persistent=True, ssh_public_key="ssh-ed25519 AAAA me", ipv6_lease="lease-7")
    spec = spec_of(job, ssh)
    assert spec.command == [runs.PERSISTENT_ENTRYPOINT, "echo 0"]
    assert spec.network_mode == "host"
    assert spec.env["JOBYARD_SSH_PORT"] == "40022"
    assert spec.env["JOBYARD_SSH_AUTHORIZED_KEY"] == "ssh-ed25519 AAAA me"
    assert spec.env["JOBYARD_IPV6_LEASE"] == spec.labels["jobyard.ipv6_lease"] == "lease-7"


def test_docker_frames_parse_and_interleave_by_time():
    out = parse_frame("stdout", b"2026-11-21T19:56:34.987371847Z second\n")
    err = parse_frame("stderr", b"2026-11-21T19:56:34.987342424Z first\n")
    assert err.at == datetime(2026, 11, 21, 19, 56, 34, 987342, tzinfo=UTC)
    assert [f.text for f in in_time_order([out, err])] == ["first", "second"]
    assert parse_frame("stdout", b"2026-11-21T19:56:34Z no fraction\n").text == "no fraction"


def test_deadline_counts_from_the_container_start():
    job = runs.claim_run(runs.accept_run(make_job(), run_step()).job, "h", "c").job
    run = runs.record_started(job).job.sandbox
    assert runs.deadline(run, None) is None
    assert (runs.deadline(run, 30) - run.started_at).total_seconds() == 30
