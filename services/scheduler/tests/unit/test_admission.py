from datetime import UTC, datetime

import pytest

from jobyard_contracts import JobAdmitted, JobStatus, Resources
from jobyard_scheduler.domain.admission import admit, place
from jobyard_store import HostReport
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_admits_once_on_its_host():
    change = admit(make_job(), "h1")
    assert (change.job.admitted_at is not None, change.job.host) == (True, "h1")
    assert change.events == [JobAdmitted(host="h1")]
    assert admit(change.job, "h2") is None


def test_a_finished_job_is_never_admitted():
    assert admit(make_job(status=JobStatus.FAILED), "h1") is None


def host(name, images=("base",), memory_mb=4096, max_sandboxes=4, cpus=2):
    return HostReport(
        _id=name,
        cpus=cpus,
        memory_mb=memory_mb,
        max_sandboxes=max_sandboxes,
        sandboxes=0,
        images=list(images),
        runtime="runc",
        reported_at=datetime.now(UTC),
    )


def test_placement_needs_the_image_and_room_and_prefers_the_least_loaded_host():
    job = make_job(image="base")
    hosts = [host("h1"), host("h2")]
    busy = [make_job(image="base", host="h1", status=JobStatus.RUNNING)]
    assert place(job, hosts, busy) == "h2"
    assert place(job, [host("h1", images=("minimal",))], []) is None
    assert place(job, [host("h1", max_sandboxes=1)], busy) is None
    big = make_job(image="base", resources=Resources(vcpus=1, memory_mb=8192))
    assert place(big, hosts, []) is None
