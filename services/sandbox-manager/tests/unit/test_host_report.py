"""The host's sandboxes by state, as converge leaves them, reach its report and the gauge."""

from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from jobyard_contracts import JobStatus, Runtime, WireNames
from jobyard_sandbox_manager import host_report
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.supervisor import SandboxSupervisor
from jobyard_store import ContainerState, JobDocument, SandboxContainer
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

HOST = "host-report-unit"


class Jobs:
    def __init__(self, *jobs: JobDocument) -> None:
        self.by_id = {job.id: job for job in jobs}

    async def get(self, job_id: str) -> JobDocument | None:
        return self.by_id.get(job_id)


class Docker:
    """Freezing, thawing and killing succeed without a Docker engine."""

    def freeze(self, name: str) -> None: ...
    def thaw(self, name: str) -> None: ...
    def kill(self, name: str) -> None: ...


class WarmPool:
    """Two idle warm sandboxes of 64 MiB."""

    reserved_memory_mb = 128


class Hosts:
    def __init__(self) -> None:
        self.reports = []

    async def report(self, report) -> None:
        self.reports.append(report)


def with_sandbox(status: JobStatus) -> JobDocument:
    job = make_job(status=status)
    container = SandboxContainer(host=HOST, name=f"c-{job.id}", state=ContainerState.UP)
    return job.model_copy(update={"container": container})


def sandboxes(state: str) -> float | None:
    return REGISTRY.get_sample_value("jobyard_sandboxes", {"host": HOST, "state": state})


async def test_running_and_paused_sandboxes_are_reported_for_the_host(tmp_path):
    jobs = [with_sandbox(s) for s in (JobStatus.RUNNING, JobStatus.PAUSED, JobStatus.COMPLETED)]
    worker = SimpleNamespace(jobs=Jobs(*jobs), names=WireNames("t"))
    settings = SandboxManagerSettings(host_id=HOST, state_dir=tmp_path)
    supervisor = SandboxSupervisor(
        worker, Docker(), None, None, None, WarmPool(), settings, Runtime.RUNC
    )
    for job in jobs:
        await supervisor.converge(job.id)  # thawed, frozen, and killed (the job is over)
    hosts = Hosts()
    await host_report.report(hosts, supervisor, WarmPool(), settings, ["base"], Runtime.RUNC)
    assert (sandboxes("running"), sandboxes("paused")) == (1, 1)
    assert hosts.reports[0].id == HOST
    # The warm pool's idle sandboxes are no jobs, but their memory is not offered to jobs.
    assert hosts.reports[0].memory_mb == settings.host_memory_mb - 128
