"""Where messages enter the agent: every subscription, each a thin call into the domain."""

from __future__ import annotations

from jobyard_agent.adapters.model import ChatModel, ModelUnavailableError
from jobyard_agent.domain import context, execution, planning, plans, tools
from jobyard_agent.settings import PlannerSettings
from jobyard_agent.step_metrics import observe_finished_steps
from jobyard_contracts import (
    DecisionRequested,
    Envelope,
    JobAdmitted,
    JobResumed,
    MessagePosted,
    Planner,
    SandboxExited,
    SandboxStarted,
)
from jobyard_worker import Worker

NO_MODEL = (
    "no model is configured for the planner (set JOBYARD_LLM_BASE_URL and JOBYARD_LLM_MODEL); "
    "give explicit script steps instead"
)


def register(worker: Worker, settings: PlannerSettings) -> None:
    budgets = settings.budgets
    model = ChatModel(settings) if settings.base_url else None

    @worker.subscriber("start-plan", JobAdmitted)
    async def on_job_admitted(msg: Envelope[JobAdmitted]) -> None:
        await worker.apply(msg, lambda job: plans.start(job, budgets))

    @worker.subscriber("record-step-started", SandboxStarted)
    async def on_sandbox_started(msg: Envelope[SandboxStarted]) -> None:
        await worker.apply(msg, lambda job: execution.record_step_started(job, msg.payload))

    @worker.subscriber("record-step-exited", SandboxExited)
    async def on_sandbox_exited(msg: Envelope[SandboxExited]) -> None:
        fact = msg.payload
        observation = ""
        job = await worker.jobs.get(msg.job_id)
        if job is not None and job.planner is Planner.LLM:
            lines = await worker.logs.tail(msg.job_id, tools.OBSERVED_LINES, step=fact.step_index)
            observation = tools.observation(fact, [line.text for line in lines])
        applied = await worker.apply(
            msg, lambda j: plans.step_exited(j, fact, observation, budgets)
        )
        observe_finished_steps(applied)

    @worker.subscriber("continue-plan", JobResumed)
    async def on_job_resumed(msg: Envelope[JobResumed]) -> None:
        await worker.apply(msg, lambda job: plans.resumed(job, budgets))

    @worker.subscriber("take-message", MessagePosted)
    async def on_message_posted(msg: Envelope[MessagePosted]) -> None:
        applied = await worker.apply(
            msg, lambda job: plans.message_posted(job, msg.payload, budgets)
        )
        observe_finished_steps(applied)  # an answer ends its `ask` step

    @worker.subscriber("decide", DecisionRequested)
    async def on_decision_requested(msg: Envelope[DecisionRequested]) -> None:
        """Ask the model for the turn's decision and store it. Acknowledged only once stored:
        an agent killed mid-call leaves the request to be redelivered and asked again."""
        turn = msg.payload.turn
        job = await worker.jobs.get(msg.job_id)
        if job is None or not planning.wants_decision(job, turn):
            return
        if model is None:
            await worker.apply(msg, lambda j: planning.record_failure(j, turn, NO_MODEL))
            return
        seen = len(job.messages)
        try:
            content, calls, tokens = await model.decide(
                context.chat_messages(job), tools.tool_definitions()
            )
        except ModelUnavailableError as exc:
            reason = str(exc)
            worker.log.error("planner failed", job_id=msg.job_id, turn=turn, error=reason)
            await worker.apply(msg, lambda j: planning.record_failure(j, turn, reason))
            return
        decision = planning.Decision(
            content=content, tool_calls=calls, tokens=tokens, messages_seen=seen
        )
        await worker.apply(msg, lambda j: planning.record_decision(j, turn, decision, budgets))
