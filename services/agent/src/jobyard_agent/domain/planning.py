"""How an LLM planner's job advances. Pure functions, like the explicit plan's.

The loop is durable because every step of it is a stored state: a decision is requested
(`agent.decide`, one per turn), the model's answer is stored as `agent.decided` with its tool
calls *before* any of them acts, and each call's result is stored as it arrives. A restarted
agent re-asks the model only for a turn whose decision was never stored, and a stored call is
carried out once: a sandbox step is dispatched in the same write that records the call's step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from jobyard_agent.domain import prompts, tools
from jobyard_agent.domain.execution import finish_step
from jobyard_agent.domain.outcomes import completed, dispatched, failed, now
from jobyard_contracts import (
    AgentDecided,
    DecisionRequested,
    FailureReason,
    JobStatus,
    MessagePosted,
    Payload,
    PlanItem,
    PlanUpdated,
    SandboxExited,
    StepStatus,
    ToolCall,
)
from jobyard_store import (
    Change,
    JobDocument,
    PlannerState,
    Prompt,
    StepState,
    TodoItem,
    ToolCallState,
    Turn,
)


@dataclass(frozen=True, slots=True)
class Budgets:
    """What one job may spend; going past one ends it as `budget exhausted`."""

    model_calls: int
    tokens: int
    commands_per_step: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The model's answer for one turn."""

    content: str
    tool_calls: tuple[ToolCall, ...]
    tokens: int
    messages_seen: int


Outcome = tuple[JobDocument, list[Payload]]


def begin(job: JobDocument, budgets: Budgets) -> Change | None:
    """On admission: the job is planning and the first decision is requested, once."""
    if job.status.is_terminal or job.planner_state is not None:
        return None
    outline = [f"{t.title}: {t.instruction}" if t.instruction else t.title for t in job.todo]
    state = PlannerState(outline=outline)
    job = job.model_copy(update={"status": JobStatus.PLANNING, "planner_state": state})
    events: list[Payload] = []
    if job.todo:  # the owner's outline is the first plan
        job, events = _plan_changed(job)
    job, requested = _request_decision(job, budgets)
    return Change(job, events + requested)


def _state(job: JobDocument) -> PlannerState:
    assert job.planner_state is not None
    return job.planner_state


def _request_decision(job: JobDocument, budgets: Budgets) -> Outcome:
    state = _state(job)
    turn = len(state.turns)
    if turn >= budgets.model_calls:
        return failed(
            job,
            FailureReason.BUDGET_EXHAUSTED,
            f"the job used its {budgets.model_calls} model calls",
        )
    if state.tokens_used >= budgets.tokens:
        return failed(
            job,
            FailureReason.BUDGET_EXHAUSTED,
            f"the job used {state.tokens_used} tokens of its {budgets.tokens}",
        )
    job = job.model_copy(update={"planner_state": state.model_copy(update={"awaiting_turn": turn})})
    return job, [DecisionRequested(turn=turn)]


def wants_decision(job: JobDocument, turn: int) -> bool:
    """The model should be called for `turn`: requested, not yet stored, job still going."""
    state = job.planner_state
    return (
        state is not None
        and not job.status.is_terminal
        and state.awaiting_turn == turn
        and len(state.turns) == turn
    )


def record_decision(
    job: JobDocument, turn: int, decision: Decision, budgets: Budgets
) -> Change | None:
    """Store the model's decision (once), then carry out what can be carried out now."""
    if not wants_decision(job, turn):
        return None
    state = _state(job)
    calls = [
        ToolCallState(id=c.id, name=c.name, arguments=c.arguments) for c in decision.tool_calls
    ]
    if not calls:  # a plain answer ends the work: it is the summary
        summary = json.dumps({"summary": decision.content or "done"})
        calls = [ToolCallState(id=f"finish-{turn}", name="finish", arguments=summary)]
    recorded = Turn(
        content=decision.content,
        tool_calls=calls,
        messages_seen=decision.messages_seen,
        tokens=decision.tokens,
        at=now(),
    )
    state = state.model_copy(
        update={
            "turns": [*state.turns, recorded],
            "awaiting_turn": None,
            "tokens_used": state.tokens_used + decision.tokens,
        }
    )
    job = job.model_copy(update={"planner_state": state})
    events: list[Payload] = [
        AgentDecided(
            turn=turn,
            content=decision.content,
            tool_calls=decision.tool_calls,
            tokens=decision.tokens,
        )
    ]
    job, effects = proceed(job, budgets)
    return Change(job, events + effects)


def record_failure(job: JobDocument, turn: int, message: str) -> Change | None:
    """The model could not be reached or kept answering nonsense: the job fails, once."""
    if not wants_decision(job, turn):
        return None
    ended, events = failed(job, FailureReason.PLANNER_ERROR, message)
    return Change(ended, events)


def record_step_exited(
    job: JobDocument, fact: SandboxExited, observation: str, budgets: Budgets
) -> Change | None:
    """A planner's step ended: its call's result is what the model will observe next."""
    result = finish_step(job, fact)
    if result is None:
        return None
    job, events, _ = result
    job = _set_result(job, job.step(fact.step_index).tool_call_id, observation)
    job, effects = proceed(job, budgets)
    return Change(job, events + effects)


def answer_call(job: JobDocument, message_id: str, answer: str, budgets: Budgets) -> Change | None:
    """The owner answered the planner's question: that is the `ask_user` call's result."""
    prompt = job.prompt
    if prompt is None or prompt.tool_call_id is None:
        return None
    job, events = prompts.answered(job, message_id, answer)
    job = _set_result(job, prompt.tool_call_id, f"The owner answered: {answer}")
    job, effects = proceed(job, budgets)
    return Change(job, events + effects)


def continue_after_resume(job: JobDocument, budgets: Budgets) -> Change | None:
    job, events = proceed(job, budgets)
    return Change(job, events) if events else None


def proceed(job: JobDocument, budgets: Budgets) -> Outcome:
    """Carry out the last decision's calls in order, as far as possible now: instant ones are
    applied, a sandbox step is dispatched (and waited for), a question waits for its answer,
    `finish` ends the job. Once every call has its result, the next decision is requested."""
    if job.status not in (JobStatus.PLANNING, JobStatus.RUNNING):
        return job, []  # paused, waiting for input or over: a resume or answer continues
    state = _state(job)
    if state.awaiting_turn is not None:
        return job, []
    events: list[Payload] = []
    for call in state.pending_calls:
        if call.step_index is not None:
            return job, events  # its step is under way
        try:
            args = tools.parse_call(call.name, call.arguments)
        except tools.InvalidCallError as exc:
            job = _set_result(job, call.id, str(exc))
            continue
        match args:
            case tools.Finish(summary=summary):
                job, ending = completed(job, summary)
                return job, events + ending
            case tools.AskUser(question=question, choices=choices):
                prompt = Prompt(
                    id=f"prompt-{call.id}",
                    question=question,
                    choices=choices,
                    asked_at=now(),
                    tool_call_id=call.id,
                )
                job, asked = prompts.ask(job, prompt)
                return job, events + asked
            case tools.UpdatePlan(items=items):
                job, changed = _revise_plan(job, items)
                job = _set_result(job, call.id, f"the plan now has {len(job.todo)} items")
            case tools.MarkDone(item=item, note=note):
                job, changed, result = _mark_done(job, item, note)
                job = _set_result(job, call.id, result)
            case tools.SendMessage(text=text):
                job, changed = _agent_message(job, text)
                job = _set_result(job, call.id, "sent")
            case _:
                job, changed = _run_in_sandbox(job, call, args, budgets)
                if job.status.is_terminal or changed:
                    return job, events + changed
        events.extend(changed)
    job, requested = _request_decision(job, budgets)
    return job, events + requested


def _run_in_sandbox(
    job: JobDocument, call: ToolCallState, args: tools.ToolArgs, budgets: Budgets
) -> Outcome:
    item = _current_item(job)
    spent = job.todo[item].commands if item is not None else _unplanned_commands(job)
    if spent >= budgets.commands_per_step:
        where = f"plan item {item} ({job.todo[item].title})" if item is not None else "no plan"
        return failed(
            job,
            FailureReason.BUDGET_EXHAUSTED,
            f"{budgets.commands_per_step} commands were run for {where} without finishing it",
        )
    index = len(job.steps)
    step = StepState(
        index=index,
        title=tools.step_title(args),
        script=tools.step_script(args, index),
        command=args.command if isinstance(args, tools.RunCommand) else None,
        tool_call_id=call.id,
    )
    job = job.model_copy(update={"steps": [*job.steps, step]})
    job = _update_call(job, call.id, step_index=index)
    events: list[Payload] = []
    if item is not None:
        todo = list(job.todo)
        todo[item] = todo[item].model_copy(
            update={"commands": todo[item].commands + 1, "status": StepStatus.RUNNING}
        )
        job = job.model_copy(update={"todo": todo})
        if job.todo[item].commands == 1:
            job, events = _plan_changed(job)
    job, dispatch = dispatched(job, index)
    return job, events + dispatch


def _unplanned_commands(job: JobDocument) -> int:
    return sum(1 for s in job.steps if s.tool_call_id is not None)


def _current_item(job: JobDocument) -> int | None:
    return next((i for i, t in enumerate(job.todo) if t.status is not StepStatus.COMPLETED), None)


def _revise_plan(job: JobDocument, items: list[str]) -> Outcome:
    done = [t for t in job.todo if t.status is StepStatus.COMPLETED]
    todo = done + [TodoItem(title=title[:200]) for title in items]
    return _plan_changed(job.model_copy(update={"todo": todo}))


def _mark_done(job: JobDocument, item: int, note: str) -> tuple[JobDocument, list[Payload], str]:
    if item >= len(job.todo):
        return job, [], f"error: the plan has {len(job.todo)} items (numbered from 0)"
    todo = list(job.todo)
    todo[item] = todo[item].model_copy(update={"status": StepStatus.COMPLETED, "note": note})
    job, events = _plan_changed(job.model_copy(update={"todo": todo}))
    return job, events, f"item {item} done"


def _plan_changed(job: JobDocument) -> Outcome:
    state = _state(job)
    revision = state.plan_revision + 1
    job = job.model_copy(
        update={"planner_state": state.model_copy(update={"plan_revision": revision})}
    )
    items = tuple(PlanItem(title=t.title, status=t.status) for t in job.todo)
    return job, [PlanUpdated(revision=revision, items=items)]


def _agent_message(job: JobDocument, text: str) -> Outcome:
    job, message = job.with_message("agent", text, now())
    return job, [MessagePosted(message_id=message.id, role="agent", text=text)]


def _set_result(job: JobDocument, call_id: str | None, result: str) -> JobDocument:
    return _update_call(job, call_id, result=result)


def _update_call(job: JobDocument, call_id: str | None, **changes: object) -> JobDocument:
    state = _state(job)
    turns = list(state.turns)
    last = turns[-1]
    turns[-1] = last.model_copy(
        update={
            "tool_calls": [
                c.model_copy(update=changes) if c.id == call_id else c for c in last.tool_calls
            ]
        }
    )
    return job.model_copy(update={"planner_state": state.model_copy(update={"turns": turns})})
