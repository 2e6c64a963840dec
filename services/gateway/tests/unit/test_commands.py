import pytest

from jobyard_contracts import DeleteJob, JobStatus, StopJob
from jobyard_gateway.domain.commands import NotAllowedError, request_delete, request_stop
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_stop_is_requested_once_and_refused_for_a_finished_job():
    change = request_stop(make_job(status=JobStatus.RUNNING))
    assert change.job.stop_requested_at is not None
    assert [type(e) for e in change.events] == [StopJob]
    assert request_stop(change.job) is None
    with pytest.raises(NotAllowedError, match="already completed"):
        request_stop(make_job(status=JobStatus.COMPLETED))


def test_delete_is_requested_once():
    change = request_delete(make_job(status=JobStatus.COMPLETED))
    assert change.job.deleted_at is not None
    assert [type(e) for e in change.events] == [DeleteJob]
    assert request_delete(change.job) is None
