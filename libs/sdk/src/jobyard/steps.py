"""The explicit steps an agent job may be given, and the one-line form the CLI reads.

client.agent_jobs.start("tidy the data", steps=[
    ScriptStep(title="fetch", script="curl -sO https://example.org/data.csv"),
    AskStep(title="confirm", ask="Drop empty rows?", choices=["yes", "no"]),
    InstructionStep(title="clean", instruction="Drop the rows as agreed and save clean.csv"),
])

Plain dicts of the same shape (`{"title": ..., "script": ...}`) are accepted too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, description="Shown in the plan.")


class ScriptStep(_StepSpec):
    """Run a bash script in the job's sandbox."""

    script: str = Field(min_length=1)


class InstructionStep(_StepSpec):
    """Let the planner work out and run what `instruction` asks."""

    instruction: str = Field(min_length=1)


class AskStep(_StepSpec):
    """Ask the job's owner a question and wait for the answer."""

    ask: str = Field(min_length=1)
    choices: list[str] = Field(default_factory=list, description="Suggested answers.")


AgentStep = ScriptStep | InstructionStep | AskStep
StepInput = AgentStep | Mapping[str, Any]

SEPARATOR = "::"
STEP_SYNTAX = (
    "TITLE::SCRIPT runs a bash script, TITLE::@INSTRUCTION lets the agent work it out, "
    "TITLE::?QUESTION asks you and TITLE::?QUESTION::A,B offers choices. "
    "The title ends at the first '::'; the rest of a script is kept as written."
)


def step_body(step: StepInput) -> dict[str, Any]:
    """The JSON of one step; an ask step without choices leaves `choices` out."""
    if isinstance(step, Mapping):
        return dict(step)
    return step.model_dump(exclude_defaults=True)


def parse_step(text: str) -> AgentStep:
    """One `--step` of the CLI (see `STEP_SYNTAX`); ValueError says what is wrong."""
    title, sep, rest = text.partition(SEPARATOR)
    title = title.strip()
    if not sep or not title or not rest.strip():
        raise ValueError(f"{text!r} is not TITLE::SCRIPT, TITLE::@INSTRUCTION or TITLE::?QUESTION")
    if rest.startswith("@"):
        return InstructionStep(title=title, instruction=_required(rest[1:], text))
    if rest.startswith("?"):
        question, _, choices = rest[1:].partition(SEPARATOR)
        return AskStep(
            title=title,
            ask=_required(question, text),
            choices=[c.strip() for c in choices.split(",") if c.strip()],
        )
    return ScriptStep(title=title, script=rest)


def _required(value: str, text: str) -> str:
    if not value.strip():
        raise ValueError(f"{text!r} has nothing after its '@' or '?'")
    return value.strip()
