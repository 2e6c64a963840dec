"""The parts of a job document an agent job adds: its to-do list, its conversation with the
owner, a pending prompt, and the planner's turns (each decision with the results of its
actions), from which the model's context is rebuilt after any restart."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts import StepStatus


class TodoItem(BaseModel):
    """One entry of the plan an LLM planner keeps as its to-do list."""

    model_config = ConfigDict(extra="ignore")

    title: str
    instruction: str = Field(default="", description="The owner's words for it, if theirs.")
    status: StepStatus = StepStatus.PENDING
    commands: int = Field(default=0, description="Sandbox commands run for it (a budget).")
    note: str = ""


class ChatMessage(BaseModel):
    """A message of the job's conversation."""

    model_config = ConfigDict(extra="ignore")

    id: str
    role: Literal["user", "agent"]
    text: str
    at: datetime
    reply_to: str | None = Field(default=None, description="The prompt this message answers.")


class Prompt(BaseModel):
    """A question the job waits on; `answer_id` is set by the owner's reply."""

    model_config = ConfigDict(extra="ignore")

    id: str
    question: str
    choices: list[str] = Field(default_factory=list)
    asked_at: datetime
    step_index: int | None = Field(default=None, description="The explicit step that asks.")
    tool_call_id: str | None = Field(default=None, description="The planner's call that asks.")
    answer_id: str | None = Field(default=None, description="The message answering it.")


class ToolCallState(BaseModel):
    """One action of a decision and, once known, its result (the model's observation)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    name: str
    arguments: str
    result: str | None = None
    step_index: int | None = Field(default=None, description="The step that carries it out.")


class Turn(BaseModel):
    """One decision of the planner, as the model returned it."""

    model_config = ConfigDict(extra="ignore")

    content: str = ""
    tool_calls: list[ToolCallState] = Field(default_factory=list)
    messages_seen: int = Field(description="Job messages the model had seen when deciding.")
    tokens: int = 0
    at: datetime


class PlannerState(BaseModel):
    """Where an LLM planner is: its turns, the decision it waits for, what it has spent."""

    model_config = ConfigDict(extra="ignore")

    outline: list[str] = Field(
        default_factory=list, description="The owner's steps, as the model was first shown them."
    )
    turns: list[Turn] = Field(default_factory=list)
    awaiting_turn: int | None = Field(
        default=None, description="The turn whose decision is requested and not yet stored."
    )
    tokens_used: int = 0
    plan_revision: int = 0

    @property
    def pending_calls(self) -> list[ToolCallState]:
        """The last decision's actions still without a result, in order."""
        if not self.turns:
            return []
        return [call for call in self.turns[-1].tool_calls if call.result is None]
