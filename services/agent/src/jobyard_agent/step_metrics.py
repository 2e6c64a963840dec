"""Step durations for Prometheus, observed where a step's end is recorded: the change that
announces `job.step.finished`. A redelivered message finds the step already finished and
announces nothing, so each step is observed once."""

from __future__ import annotations

from jobyard_contracts import StepFinished
from jobyard_metrics import STEP_SECONDS
from jobyard_store import Applied, StepState


def observe_finished_steps(applied: Applied | None) -> None:
    if applied is None:
        return
    job = applied.job
    for envelope in applied.envelopes:
        finished = envelope.payload
        if not isinstance(finished, StepFinished):
            continue
        step = job.step(finished.step_index)
        if step.started_at is None or step.finished_at is None:
            continue
        STEP_SECONDS.labels(
            job_kind=job.kind.value,
            step_kind=step_kind(step),
            outcome="succeeded" if finished.succeeded else "failed",
        ).observe((step.finished_at - step.started_at).total_seconds())


def step_kind(step: StepState) -> str:
    """`ask` (its time is the owner's), `command` (a model's sandbox call) or `script`."""
    if step.ask:
        return "ask"
    return "script" if step.command is None else "command"
