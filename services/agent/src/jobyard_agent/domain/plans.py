"""Which rules a fact goes to: the explicit plan's (script jobs and agent jobs with `steps`) or
the LLM planner's. Each returns None when the fact was already applied."""

from __future__ import annotations

from jobyard_agent.domain import execution, planning, prompts
from jobyard_contracts import MessagePosted, Planner, SandboxExited
from jobyard_store import Change, JobDocument


def _by_model(job: JobDocument) -> bool:
    return job.planner is Planner.LLM


def start(job: JobDocument, budgets: planning.Budgets) -> Change | None:
    return planning.begin(job, budgets) if _by_model(job) else execution.start_plan(job)


def step_exited(
    job: JobDocument, fact: SandboxExited, observation: str, budgets: planning.Budgets
) -> Change | None:
    if _by_model(job):
        return planning.record_step_exited(job, fact, observation, budgets)
    return execution.record_step_exited(job, fact)


def resumed(job: JobDocument, budgets: planning.Budgets) -> Change | None:
    if _by_model(job):
        return planning.continue_after_resume(job, budgets)
    return execution.continue_plan(job)


def message_posted(
    job: JobDocument, posted: MessagePosted, budgets: planning.Budgets
) -> Change | None:
    """An owner's message that answers the pending prompt lets the job go on; any other is
    already stored (the planner reads it at its next decision)."""
    if posted.role != "user" or not prompts.answers_pending_prompt(job, posted.reply_to):
        return None
    if _by_model(job):
        return planning.answer_call(job, posted.message_id, posted.text, budgets)
    return execution.answer_step(job, posted.message_id, posted.text)
