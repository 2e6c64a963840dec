import pytest
from prometheus_client import REGISTRY

from jobyard_contracts import JobStatus
from jobyard_scheduler.job_counts import count_jobs
from jobyard_store import JobRepository
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.integration


def gauge(status: JobStatus) -> float | None:
    return REGISTRY.get_sample_value("jobyard_jobs", {"status": status.value})


async def test_every_status_is_counted_absent_ones_as_zero(mongo_db):
    jobs = JobRepository(mongo_db)
    await jobs.ensure_indexes()
    for status in (JobStatus.PENDING, JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED):
        await jobs.create(make_job(status=status), [])
    await count_jobs(jobs)
    assert {status: gauge(status) for status in JobStatus} == {
        status: {"pending": 2, "running": 1, "completed": 1}.get(status.value, 0)
        for status in JobStatus
    }
