"""The sandbox-manager's pure rules: step runs, the sandbox lifecycle, pause/resume clocks,
limits and exit reasons, and the runner's records."""

from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import (
    FailureReason,
    JobPaused,
    JobResumed,
    JobStatus,
    PauseReason,
    Resources,
    RunStep,
    Runtime,
    SandboxExited,
    SandboxHibernated,
    SandboxStart,
    SandboxStarted,
    WireNames,
)
from jobyard_sandbox_manager.domain import limits, pausing, records, sandboxes, steps
from jobyard_store import ContainerState, SandboxState
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

NAMES = WireNames("t")
T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def running_job(**overrides):
    job = make_job(status=JobStatus.RUNNING, host="h1", **overrides)
    job = sandboxes.place_container(job, NAMES, "h1", Runtime.RUNC, 0).job
    job = sandboxes.container_up(job, T0, SandboxStart.COLD).job
    job = steps.accept_run(
        job, RunStep(step_index=0, image="i", script="s", resources=job.resources), T0
    ).job
    job = steps.hand_to_runner(job, "h1").job
    return steps.record_started(pausing.start_session(job, T0), 0, T0).job


def asked_to_pause(job):
    return job.model_copy(update={"pause_requested_at": T0})


def granted_resume(job):
    return job.model_copy(update={"resume_granted_at": T0})


def test_a_step_runs_once_through_its_states_and_duplicates_change_nothing():
    job = running_job()
    assert job.sandbox.state is SandboxState.RUNNING
    assert steps.record_started(job, 0, T0) is None
    change = steps.record_exited(job, 0, 3, FailureReason.EXIT_CODE, message="exited with code 3")
    assert change.events == [
        SandboxExited(
            step_index=0, exit_code=3, reason=FailureReason.EXIT_CODE, message="exited with code 3"
        )
    ]
    assert steps.record_exited(change.job, 0, 3, None) is None
    assert steps.record_exited(job, 1, 0, None) is None  # not the step under way


def test_the_started_event_names_host_container_runtime_and_a_warm_or_cold_start():
    job = make_job(status=JobStatus.RUNNING)
    job = sandboxes.place_container(job, NAMES, "h1", Runtime.GVISOR, 0).job
    job = sandboxes.container_up(job, T0, SandboxStart.WARM).job
    job = steps.accept_run(
        job, RunStep(step_index=0, image="i", script="s", resources=job.resources), T0
    ).job
    job = steps.hand_to_runner(job, "h1").job
    change = steps.record_started(job, 0, T0)
    assert change.events == [
        SandboxStarted(
            step_index=0,
            host="h1",
            container=f"t-{job.id}-g1",
            runtime=Runtime.GVISOR,
            start=SandboxStart.WARM,
        )
    ]


def test_pause_then_resume_adds_the_paused_time_and_keeps_the_session():
    job = running_job()
    paused = pausing.pause(asked_to_pause(job), PauseReason.USER, T0 + timedelta(seconds=10))
    assert paused.events == [
        JobPaused(
            by="user", reason=PauseReason.USER, message=pausing.PAUSE_MESSAGES[PauseReason.USER]
        )
    ]
    assert pausing.pause(paused.job, PauseReason.USER, T0) is None  # already paused
    resumed = pausing.resume(granted_resume(paused.job), T0 + timedelta(seconds=70))
    assert resumed.job.paused_seconds == 60
    assert resumed.events == [JobResumed(session=1, hibernated=False)]
    assert pausing.resume(resumed.job, T0) is None


def test_paused_time_counts_neither_against_the_timeout_nor_the_session():
    job = running_job(resources=Resources(vcpus=1, memory_mb=64, timeout_seconds=30))
    assert not limits.step_overdue(job, T0 + timedelta(seconds=29))
    assert limits.step_overdue(job, T0 + timedelta(seconds=31))
    paused = pausing.pause(asked_to_pause(job), PauseReason.USER, T0 + timedelta(seconds=20)).job
    resumed = pausing.resume(granted_resume(paused), T0 + timedelta(seconds=120)).job
    assert not limits.step_overdue(resumed, T0 + timedelta(seconds=125))
    assert limits.step_overdue(resumed, T0 + timedelta(seconds=131))
    assert resumed.session_used_seconds(T0 + timedelta(seconds=130)) == 30
    assert limits.session_exhausted(resumed, T0 + timedelta(seconds=130), default_budget=30)


def test_a_session_limit_pause_is_by_the_system_and_its_resume_starts_a_new_session():
    job = running_job()
    paused = pausing.pause(job, PauseReason.SESSION_LIMIT, T0 + timedelta(hours=1)).job
    assert (paused.pause.by, paused.status) == ("system", JobStatus.PAUSED)
    resumed = pausing.resume(granted_resume(paused), T0 + timedelta(hours=3))
    assert resumed.job.session.number == 2
    assert resumed.job.session_used_seconds(T0 + timedelta(hours=3, seconds=5)) == 5


def test_hibernation_is_due_after_a_long_pause_and_requeues_the_interrupted_step():
    job = pausing.pause(asked_to_pause(running_job()), PauseReason.USER, T0).job
    assert not limits.hibernation_due(job, T0 + timedelta(hours=23), timedelta(hours=24))
    assert limits.hibernation_due(job, T0 + timedelta(hours=24), timedelta(hours=24))
    change = sandboxes.hibernate(job)
    assert change.events == [SandboxHibernated()]
    assert (change.job.container.state, change.job.sandbox.state) == (
        ContainerState.HIBERNATED,
        SandboxState.REQUESTED,
    )
    revived = sandboxes.place_container(change.job, NAMES, "h1", Runtime.RUNC, 42).job
    assert (revived.container.generation, revived.container.log_base_seq) == (2, 42)
    assert revived.container.name == f"t-{job.id}-g2"


def test_release_ends_a_step_under_way_with_the_jobs_reason():
    job = running_job().model_copy(
        update={"status": JobStatus.CANCELLED, "reason": FailureReason.CANCELLED}
    )
    released = sandboxes.release(job).job
    assert released.container.state is ContainerState.RELEASED
    assert (released.sandbox.state, released.sandbox.reason) == (
        SandboxState.EXITED,
        FailureReason.CANCELLED,
    )
    assert sandboxes.release(released) is None


@pytest.mark.parametrize(
    ("code", "facts", "reason"),
    [
        (0, limits.ExitFacts(), None),
        (2, limits.ExitFacts(), FailureReason.EXIT_CODE),
        (137, limits.ExitFacts(out_of_memory=True), FailureReason.OUT_OF_MEMORY),
        (
            1,
            limits.ExitFacts(out_of_memory=True, process_limit_hit=True),
            FailureReason.PROCESS_LIMIT,
        ),
        (1, limits.ExitFacts(process_limit_hit=True), FailureReason.PROCESS_LIMIT),
        (1, limits.ExitFacts(disk_full=True), FailureReason.DISK_LIMIT),
        (137, limits.ExitFacts(killed_for_timeout=True), FailureReason.TIMEOUT),
        (0, limits.ExitFacts(out_of_memory=True), None),  # a clean exit is a clean exit
    ],
)
def test_exit_reasons(code, facts, reason):
    found, message = limits.classify_exit(code, facts)
    assert found == reason
    assert bool(message) == (reason is not None)


def test_runner_records_parse_and_number_lines_after_earlier_sandboxes():
    out = records.parse_record(
        b'2026-11-23T12:00:00.123456789Z {"t":"out","step":2,"s":"e","i":7,"x":"boom"}\n'
    )
    assert (out.kind, out.step, out.stream, out.number, out.text) == ("out", 2, "stderr", 7, "boom")
    assert records.log_line(out, base_seq=100).seq == 107
    exit_record = records.parse_record(
        b'2026-11-23T12:00:00Z {"t":"exit","step":2,"code":137,"oom":3,"pids":0}'
    )
    assert (exit_record.kind, exit_record.exit_code) == ("exit", 137)
    assert exit_record.counters == records.CgroupCounters(oom_kills=3, pids_limit_hits=0)
    forged = b'2026-11-23T12:00:00Z {"t":"out","step":0,"s":"o","i":9223372036854775807,"x":""}'
    assert records.parse_record(forged) is None
    assert records.parse_record(b"2026-11-23T12:00:00Z not json") is None
    assert records.parse_record(b'2026-11-23T12:00:00Z {"t":"out"}') is None


def test_only_gvisor_jobs_with_network_run_as_root_and_runc_ones_are_read_only():
    policy = sandboxes.HostPolicy(
        host_cpus=2,
        pids_limit=64,
        images={"base": "img"},
        networks={"none": "none", "internet": "host"},
        persistent_network="host",
        runtime=Runtime.GVISOR,
        sandbox_user="1000:1000",
        default_disk_mb=512,
    )
    job = sandboxes.place_container(
        make_job(image="base", network="internet"), NAMES, "h1", Runtime.GVISOR, 0
    ).job
    from pathlib import Path

    spec = sandboxes.container_spec(
        job, NAMES, policy, disk=Path("/d"), inbox=Path("/i"), runner=Path("/r")
    )
    assert (spec.user, spec.read_only, spec.env["HOME"]) == ("0:0", False, "/root")
    offline = sandboxes.place_container(make_job(image="base"), NAMES, "h1", Runtime.GVISOR, 0).job
    spec = sandboxes.container_spec(
        offline, NAMES, policy, disk=Path("/d"), inbox=Path("/i"), runner=Path("/r")
    )
    assert (spec.user, spec.read_only) == ("1000:1000", True)


def test_a_duplicated_pause_or_resume_never_undoes_a_later_request():
    paused = pausing.pause(asked_to_pause(running_job()), PauseReason.USER, T0).job
    assert paused.pause_requested_at is None
    resumed = pausing.resume(granted_resume(paused), T0 + timedelta(seconds=5)).job
    assert pausing.pause(resumed, PauseReason.USER, T0 + timedelta(seconds=6)) is None
    paused_again = pausing.pause(asked_to_pause(resumed), PauseReason.USER, T0).job
    assert pausing.resume(paused_again, T0 + timedelta(seconds=9)) is None  # not granted


def requested_job(**overrides):
    job = make_job(status=JobStatus.RUNNING, host="h1", **overrides)
    job = sandboxes.place_container(job, NAMES, "h1", Runtime.RUNC, 0).job
    return steps.accept_run(
        job, RunStep(step_index=0, image="i", script="s", resources=job.resources), T0
    ).job


def test_a_sandbox_that_came_up_with_its_step_in_the_inbox_records_both_in_one_change():
    job = requested_job()
    assert steps.ready_to_hand_over(job)
    change = steps.came_up(job, T0, SandboxStart.WARM, "h1")
    assert change.job.container.state is ContainerState.UP
    assert change.job.container.start is SandboxStart.WARM
    assert change.job.sandbox.state is SandboxState.STARTING
    assert change.job.sandbox.container == job.container.name
    assert not steps.ready_to_hand_over(change.job)  # handed over: not again
    assert steps.came_up(change.job, T0, SandboxStart.WARM, "h1") is None  # already up


def test_a_sandbox_that_came_up_without_its_step_leaves_it_requested_for_the_driver():
    change = steps.came_up(requested_job(), T0, SandboxStart.COLD, None)
    assert change.job.container.state is ContainerState.UP
    assert change.job.sandbox.state is SandboxState.REQUESTED


def frozen_waiting_for_input(job):
    waiting = job.model_copy(update={"status": JobStatus.WAITING_FOR_INPUT})
    return pausing.pause(waiting, PauseReason.INPUT, T0).job


@pytest.mark.parametrize(
    "make",
    [
        lambda job: job.model_copy(update={"status": JobStatus.PAUSED}),
        lambda job: job.model_copy(update={"status": JobStatus.CANCELLED}),
        frozen_waiting_for_input,
    ],
    ids=["paused", "ended", "frozen-for-input"],
)
def test_a_step_is_not_handed_to_a_job_that_is_paused_frozen_or_over(make):
    assert not steps.ready_to_hand_over(make(requested_job()))
