"""Where messages enter the agent: every subscription, each a thin call into the domain."""

from __future__ import annotations

from jobyard_agent.domain import execution
from jobyard_contracts import Envelope, JobAdmitted, JobResumed, SandboxExited, SandboxStarted
from jobyard_worker import Worker


def register(worker: Worker) -> None:
    @worker.subscriber("start-plan", JobAdmitted)
    async def on_job_admitted(msg: Envelope[JobAdmitted]) -> None:
        await worker.apply(msg, execution.start_plan)

    @worker.subscriber("record-step-started", SandboxStarted)
    async def on_sandbox_started(msg: Envelope[SandboxStarted]) -> None:
        await worker.apply(msg, lambda job: execution.record_step_started(job, msg.payload))

    @worker.subscriber("record-step-exited", SandboxExited)
    async def on_sandbox_exited(msg: Envelope[SandboxExited]) -> None:
        await worker.apply(msg, lambda job: execution.record_step_exited(job, msg.payload))

    @worker.subscriber("continue-plan", JobResumed)
    async def on_job_resumed(msg: Envelope[JobResumed]) -> None:
        await worker.apply(msg, execution.continue_plan)
