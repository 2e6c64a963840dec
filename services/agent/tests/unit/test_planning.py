import json

import pytest

from jobyard_agent.domain import context, planning
from jobyard_contracts import (
    AgentDecided,
    DecisionRequested,
    FailureReason,
    JobKind,
    JobStatus,
    Planner,
    RunStep,
    SandboxExited,
    ToolCall,
)
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

BUDGETS = planning.Budgets(model_calls=5, tokens=1000, commands_per_step=2)


def llm_job():
    job = make_job(steps=0, kind=JobKind.AGENT, planner=Planner.LLM, instruction="do it")
    return planning.begin(job, BUDGETS).job


def decide(job, *calls, turn=None, tokens=10):
    turn = len(job.planner_state.turns) if turn is None else turn
    tool_calls = tuple(
        ToolCall(id=f"c{turn}_{i}", name=name, arguments=json.dumps(args))
        for i, (name, args) in enumerate(calls)
    )
    decision = planning.Decision(
        content="", tool_calls=tool_calls, tokens=tokens, messages_seen=len(job.messages)
    )
    return planning.record_decision(job, turn, decision, BUDGETS)


def test_admission_requests_the_first_decision_once():
    job = make_job(steps=0, kind=JobKind.AGENT, planner=Planner.LLM, instruction="x")
    change = planning.begin(job, BUDGETS)
    assert change.job.status is JobStatus.PLANNING
    assert [type(e) for e in change.events] == [DecisionRequested]
    assert planning.begin(change.job, BUDGETS) is None


def test_a_decision_is_stored_once_before_its_step_is_dispatched():
    job = llm_job()
    change = decide(job, ("update_plan", {"items": ["a"]}), ("run_command", {"command": "ls"}))
    types = [type(e).__name__ for e in change.events]
    assert types[0] == "AgentDecided"
    assert types[-2:] == ["StepDispatched", "RunStep"]
    assert change.job.planner_state.turns[0].tool_calls[1].step_index == 0
    assert decide(change.job, ("finish", {"summary": "x"}), turn=0) is None  # already stored


def test_a_step_result_is_observed_and_the_next_decision_requested():
    job = decide(llm_job(), ("run_command", {"command": "ls"})).job
    fact = SandboxExited(step_index=0, exit_code=3, output_tail="nope")
    change = planning.record_step_exited(job, fact, "exit code 3\nnope", BUDGETS)
    assert change.job.planner_state.turns[0].tool_calls[0].result == "exit code 3\nnope"
    assert isinstance(change.events[-1], DecisionRequested)
    assert change.job.status is not JobStatus.FAILED  # the model decides what a failure means
    assert planning.record_step_exited(change.job, fact, "again", BUDGETS) is None


def test_invalid_calls_go_back_to_the_model_as_results():
    change = decide(llm_job(), ("teleport", {}), ("run_command", {}))
    results = [c.result for c in change.job.planner_state.turns[0].tool_calls]
    assert "no tool 'teleport'" in results[0]
    assert "invalid arguments for run_command" in results[1]
    assert isinstance(change.events[-1], DecisionRequested)


def test_commands_beyond_the_budget_of_a_plan_item_end_the_job():
    job = decide(llm_job(), ("update_plan", {"items": ["only"]}), ("run_command", {"command": "a"}))
    job = planning.record_step_exited(
        job.job, SandboxExited(step_index=0, exit_code=0), "ok", BUDGETS
    ).job
    job = decide(job, ("run_command", {"command": "b"})).job
    job = planning.record_step_exited(job, SandboxExited(step_index=1, exit_code=0), "ok", BUDGETS)
    change = decide(job.job, ("run_command", {"command": "c"}))
    assert change.job.status is JobStatus.FAILED
    assert change.job.reason is FailureReason.BUDGET_EXHAUSTED
    assert not any(isinstance(e, RunStep) for e in change.events)


def test_a_plain_answer_finishes_with_it_as_the_summary():
    job = llm_job()
    decision = planning.Decision(content="All done.", tool_calls=(), tokens=5, messages_seen=0)
    change = planning.record_decision(job, 0, decision, BUDGETS)
    assert change.job.status is JobStatus.COMPLETED
    assert change.job.summary == "All done."
    assert isinstance(change.events[0], AgentDecided)


def test_the_model_context_is_rebuilt_from_the_stored_turns_with_owner_messages():
    job = decide(llm_job(), ("run_command", {"command": "ls"})).job
    job, _ = job.with_message("user", "use the median", job.created_at)
    job = planning.record_step_exited(
        job, SandboxExited(step_index=0, exit_code=0), "exit code 0", BUDGETS
    ).job
    messages = context.chat_messages(job)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "user"]
    assert messages[-1]["content"] == "Message from the owner: use the median"
    assert context.chat_messages(job) == messages  # the same job, the same conversation
