import pytest

from jobyard_contracts import JobAdmitted, JobStatus
from jobyard_scheduler.domain.admission import admit
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_admits_once():
    change = admit(make_job())
    assert change.job.admitted_at is not None
    assert [type(e) for e in change.events] == [JobAdmitted]
    assert admit(change.job) is None


def test_a_finished_job_is_never_admitted():
    assert admit(make_job(status=JobStatus.FAILED)) is None
