"""Replaying a job's history through the services' own rules (Temporal's replayer, for jobs).

The replay starts from the job as its submission stored it and, write by write, runs the rule
that made the write (`replay_rules`) on the state the replay has reached, with the inputs the
service had then (the host it was placed on, the model's answer, what the sandbox did, all
read off the history). Each write must come out as recorded, event for event; at the end the
state reached must show the facts the stored document shows (`jobyard_store.replay.observe`).
A rule changed so that an old history no longer replays, or a service that changes a job
without announcing it, is a difference. The e2e suite replays every job it made this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jobyard_agent.domain import planning, tools
from jobyard_contracts import JobSubmitted, Planner, SandboxExited, parse_envelope
from jobyard_ops.replay_rules import DECISIONS, ORIGINS, Inputs, Rule, Write
from jobyard_store import Change, JobDocument, LogStore
from jobyard_store.forks import as_submitted
from jobyard_store.replay import JobFacts, differences, observe


@dataclass(frozen=True, slots=True)
class Replay:
    """The state the rules reach, and each place where they disagree with what was stored."""

    job: JobDocument
    differences: list[str]

    @property
    def facts(self) -> JobFacts:
        return observe(self.job)


async def replay_inputs(
    logs: LogStore, job: JobDocument, history: Sequence[dict[str, Any]], budgets: planning.Budgets
) -> Inputs:
    """What the services read besides the history: an LLM planner saw its steps' output."""
    observations: dict[int, str] = {}
    if job.planner is Planner.LLM:
        for raw in history:
            if raw["type"] != SandboxExited.TYPE:
                continue
            fact = parse_envelope(raw).payload
            assert isinstance(fact, SandboxExited)
            lines = await logs.tail(job.id, tools.OBSERVED_LINES, step=fact.step_index)
            observations[fact.step_index] = tools.observation(fact, [x.text for x in lines])
    return Inputs(budgets=budgets, observations=observations)


def replay(
    stored: JobDocument,
    history: Sequence[dict[str, Any]],
    inputs: Inputs,
    up_to: int | None = None,
) -> Replay:
    """Replay `history` (JSON-shaped envelopes in sequence order) up to and including the
    write that holds sequence `up_to` (a write is one state change: never replayed in part);
    the whole of it is also compared with `stored`, the job as stored now."""
    envelopes = [parse_envelope(raw) for raw in history]
    if not envelopes or not isinstance(envelopes[0].payload, JobSubmitted):
        return Replay(stored, ["the history does not begin with the job's submission"])
    job = as_submitted(stored, envelopes[0].payload)
    by_id = {e.id: e for e in envelopes}
    found: list[str] = []
    at = 1
    while at < len(envelopes) and (up_to is None or envelopes[at].sequence <= up_to):
        first = envelopes[at]
        cause = by_id.get(first.causation_id) if first.causation_id else None
        write = Write(envelopes[at:], cause if cause and cause.sequence < first.sequence else None)
        change, problem = _rewrite(job, write, inputs)
        if change is None:
            found.append(f"event {first.sequence} ({first.type}{_by(write)}): {problem}")
            job, at = job.model_copy(update={"sequence": first.sequence}), at + 1
            continue
        made = len(change.events)
        job = change.job.model_copy(update={"sequence": first.sequence + made - 1})
        at += made
    if up_to is None or up_to >= envelopes[-1].sequence:
        found += differences(observe(job), observe(stored))
    return Replay(job, found)


def _rules(write: Write) -> tuple[Rule, ...]:
    if write.cause is not None:
        return DECISIONS.get(type(write.cause.payload), ())
    origin = ORIGINS.get(type(write.first))
    return (origin,) if origin is not None else ()


def _rewrite(job: JobDocument, write: Write, inputs: Inputs) -> tuple[Change | None, str]:
    """The change a rule makes that announces the write as recorded, or what the rules do
    instead."""
    rules = _rules(write)
    cause_id = write.events[0].causation_id
    if not rules:
        return None, "no rule of any service announces it"
    made = []
    for rule in rules:
        try:
            change = rule(job, write, inputs)
        except Exception as exc:  # a rule refusing an old history is what the replay looks for
            made.append(f"refuse it ({exc})")
            continue
        if change is None or not change.events:
            made.append("announce nothing")
            continue
        # One write's events share their cause: a shorter write must not swallow the next.
        same = [e for e in write.events[: len(change.events)] if e.causation_id == cause_id]
        if list(change.events) == [e.payload for e in same]:
            return change, ""
        made.append(f"announce {_described(change.events)}")
    history = _described([e.payload for e in write.events[:1]])
    return None, f"the rules now {' or '.join(made)}, where the history has {history}"


def _by(write: Write) -> str:
    return f", caused by {write.cause.sequence} {write.cause.type}" if write.cause else ""


def _described(events: Sequence[Any]) -> str:
    return ", ".join(f"{type(e).TYPE} {e.model_dump(mode='json')}" for e in events)
