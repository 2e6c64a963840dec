"""Messages of agent jobs: the plan as a to-do list, the planner's decisions (stored before
their effects, so a job's whole run can be re-read), messages both ways and input prompts."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts.envelope import MessageKind, Payload
from jobyard_contracts.jobs import StepStatus


class PlanItem(BaseModel):
    """One entry of the to-do list shown as the plan."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str
    status: StepStatus


class PlanUpdated(Payload):
    """The plan was made or revised (or an item of it ticked off)."""

    TYPE: ClassVar[str] = "job.plan.updated"

    revision: int = Field(ge=1, description="Counts the plan's versions, from 1.")
    items: tuple[PlanItem, ...]


class ToolCall(BaseModel):
    """One action the planner chose: a tool and its JSON arguments."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    name: str
    arguments: str = Field(description="The arguments as the model wrote them (JSON).")


class DecisionRequested(Payload):
    """Ask the agent to take the planner's next decision (a model call) for turn `turn`."""

    TYPE: ClassVar[str] = "agent.decide"
    KIND: ClassVar[MessageKind] = "command"

    turn: int = Field(ge=0, description="Decisions taken so far.")


class AgentDecided(Payload):
    """The planner's decision for one turn, stored before any of its effects happens."""

    TYPE: ClassVar[str] = "agent.decided"

    turn: int = Field(ge=0)
    content: str = Field(default="", description="What the model said besides its actions.")
    tool_calls: tuple[ToolCall, ...] = ()
    tokens: int = Field(default=0, ge=0, description="Tokens the call used.")


class MessagePosted(Payload):
    """A message of the job's conversation, from its owner or from the agent."""

    TYPE: ClassVar[str] = "job.message.posted"

    message_id: str
    role: Literal["user", "agent"]
    text: str
    reply_to: str | None = Field(default=None, description="The prompt it answers.")


class InputRequested(Payload):
    """The job waits for its owner's answer; its sandbox is paused meanwhile."""

    TYPE: ClassVar[str] = "job.input.requested"

    prompt_id: str
    question: str
    choices: tuple[str, ...] = ()
    step_index: int | None = Field(default=None, description="The explicit step that asks.")


class InputReceived(Payload):
    """The owner answered the pending prompt; the job goes on."""

    TYPE: ClassVar[str] = "job.input.received"

    prompt_id: str
    message_id: str
    answer: str
