from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import FailureReason, JobFailed, JobStatus, StepStatus
from jobyard_scheduler.domain.lost_hosts import fail_on_lost_host, lost_hosts
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 21, 0, tzinfo=UTC)
GRACE = timedelta(seconds=120)
LONG_AGO = NOW - timedelta(hours=1)


def test_a_host_silent_past_its_grace_is_lost_with_its_last_report():
    seen = {"a": NOW - timedelta(seconds=121), "b": NOW - timedelta(seconds=5)}
    assert lost_hosts(["a", "b", "a"], seen, LONG_AGO, NOW, GRACE) == {"a": seen["a"]}


def test_a_host_that_never_reported_counts_from_when_the_scheduler_began_watching():
    assert lost_hosts(["x"], {}, NOW - timedelta(seconds=60), NOW, GRACE) == {}
    assert lost_hosts(["x"], {}, NOW - timedelta(seconds=121), NOW, GRACE) == {"x": None}


def test_silence_while_the_scheduler_could_not_watch_does_not_count():
    # The store was down until a minute ago: no host could report, so none is lost yet.
    seen = {"a": NOW - timedelta(minutes=10)}
    assert lost_hosts(["a"], seen, NOW - timedelta(seconds=60), NOW, GRACE) == {}


def running_on(host: str):
    job = make_job(status=JobStatus.RUNNING).model_copy(update={"host": host})
    step = job.step(0).model_copy(update={"status": StepStatus.RUNNING})
    return job.model_copy(update={"steps": [step]})


def test_a_job_on_a_lost_host_fails_once_with_its_step_and_a_reason_naming_the_host():
    change = fail_on_lost_host(running_on("host-b"), "host-b", NOW - timedelta(seconds=130))
    assert change is not None
    assert (change.job.status, change.job.reason) == (JobStatus.FAILED, FailureReason.SANDBOX_ERROR)
    assert change.job.step(0).status is StepStatus.FAILED
    assert change.job.files.final_synced  # what file-sync saved is all there will be
    assert "host host-b has not reported since 2026-12-02 20:57:50 UTC" in change.job.message
    assert "files saved before are kept" in change.job.message
    [event] = change.events
    assert isinstance(event, JobFailed)
    assert event.message == change.job.message
    assert fail_on_lost_host(change.job, "host-b", None) is None


def test_a_job_on_another_host_or_already_ended_is_left_alone():
    assert fail_on_lost_host(running_on("host-a"), "host-b", None) is None
    done = make_job(status=JobStatus.COMPLETED).model_copy(update={"host": "host-b"})
    assert fail_on_lost_host(done, "host-b", None) is None
