"""`jobyard-ops`: what operators do to a running deployment. It reads the deployment from the
same `JOBYARD_*` settings as the services (namespace, MongoDB and RabbitMQ URLs)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jobyard_ops.dead_letters import DeadLetterDesk, dead_letter_desk
from jobyard_ops.history import Span, UnknownJobError, UnknownQueueError, history_desk
from jobyard_settings import InfraSettings
from jobyard_store import DeadLetter
from jobyard_store.forks import ForkRefusedError

app = typer.Typer(help=__doc__, no_args_is_help=True)
dlq = typer.Typer(help="Dead-lettered messages: list, requeue, drop.", no_args_is_help=True)
app.add_typer(dlq, name="dlq")
console = Console()

LetterArg = Annotated[
    str | None, typer.Argument(help="One letter's id (`<queue>:<message id>`, as listed).")
]
QueueOpt = Annotated[str | None, typer.Option("--queue", help="Only this queue's letters.")]
JobOpt = Annotated[str | None, typer.Option("--job", help="Only this job's letters.")]
AllOpt = Annotated[bool, typer.Option("--all", help="Every letter (nothing else narrows).")]


FromSeq = Annotated[int, typer.Option("--from-seq", min=1, help="From this sequence number.")]
ToSeq = Annotated[int | None, typer.Option("--to-seq", min=1, help="Up to this one (included).")]
Since = Annotated[
    datetime | None, typer.Option("--since", help="Messages that occurred at or after (UTC).")
]
Until = Annotated[datetime | None, typer.Option("--until", help="... and at or before (UTC).")]


def _span(
    from_seq: int, to_seq: int | None, since: datetime | None, until: datetime | None
) -> Span:
    def utc(at: datetime | None) -> datetime | None:
        return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)

    return Span(from_seq=from_seq, to_seq=to_seq, since=utc(since), until=utc(until))


def _with[D, T](
    desk: Callable[[InfraSettings], AbstractAsyncContextManager[D]],
    act: Callable[[D], Awaitable[T]],
) -> T:
    """Run `act` with a desk of the deployment the `JOBYARD_*` settings name."""

    async def run() -> T:
        async with desk(InfraSettings()) as opened:
            return await act(opened)

    return asyncio.run(run())


@app.command()
def history(
    job: Annotated[str, typer.Argument(help="The job's id.")],
    from_seq: FromSeq = 1,
    to_seq: ToSeq = None,
    since: Since = None,
    until: Until = None,
    as_json: Annotated[bool, typer.Option("--json", help="One envelope per line.")] = False,
) -> None:
    """A job's messages in sequence order: from its event log, or from the `history` stream
    once the job was purged."""
    span = _span(from_seq, to_seq, since, until)
    source, envelopes = _with(history_desk, lambda desk: desk.history(job, span))
    if as_json:
        for envelope in envelopes:
            typer.echo(json.dumps(envelope))
        return
    table = Table("seq", "type", "occurred", "message id")
    for envelope in envelopes:
        table.add_row(
            str(envelope["sequence"]), envelope["type"], envelope["occurred_at"], envelope["id"]
        )
    console.print(table)
    console.print(f"{len(envelopes)} message(s), read from the {source}")


@app.command()
def replay(
    job: Annotated[str, typer.Argument(help="The job's id.")],
    to_seq: ToSeq = None,
) -> None:
    """Replay a job's history through the services' rules and compare each write with the
    history and the state reached with the stored document; exits 1 when they disagree. With
    --to-seq: the state after the write holding that event."""
    replayed = _with(history_desk, lambda desk: desk.replay(job, to_seq))
    typer.echo(
        json.dumps(
            {
                "source": replayed.source,
                "messages": replayed.messages,
                "state": asdict(replayed.facts),
                "differences": replayed.differences,
            },
            default=str,
        )
    )
    if replayed.differences:
        raise typer.Exit(1)


@app.command()
def fork(
    job: Annotated[str, typer.Argument(help="The job's id (any user's).")],
    from_seq: Annotated[
        int | None, typer.Option("--from-seq", min=1, help="The last event it keeps.")
    ] = None,
) -> None:
    """Fork a job from one of its events, for its owner, as `POST /v1/jobs/{id}/fork` does."""
    try:
        forked = _with(history_desk, lambda desk: desk.fork(job, from_seq))
    except UnknownJobError as exc:
        raise typer.BadParameter(str(exc), param_hint="JOB") from exc
    except ForkRefusedError as exc:
        raise typer.BadParameter(str(exc), param_hint="--from-seq") from exc
    typer.echo(
        json.dumps(
            {
                "job_id": forked.id,
                "forked_from": forked.forked_from.model_dump() if forked.forked_from else None,
            }
        )
    )


@app.command()
def redeliver(
    job: Annotated[str, typer.Argument(help="The job's id.")],
    to: Annotated[
        str, typer.Option("--to", help="The consumer: `<service>.<handler>` or its queue name.")
    ],
    from_seq: FromSeq = 1,
    to_seq: ToSeq = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Deliver a job's messages again to one consumer (e.g. to rebuild what a bug dropped)."""
    span = _span(from_seq, to_seq, since, until)
    try:
        sent = _with(history_desk, lambda desk: desk.redeliver(job, to, span))
    except UnknownQueueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--to") from exc
    typer.echo(json.dumps({"redelivered": sent}))


@dlq.command("list")
def list_letters(
    queue: QueueOpt = None,
    job: JobOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Every dead-lettered message, oldest first: queue, job, type, first error and count."""
    letters = _with(dead_letter_desk, lambda desk: desk.find(letter=None, queue=queue, job_id=job))
    if as_json:
        for letter in letters:
            typer.echo(letter.model_dump_json(by_alias=False))
        return
    table = Table("id", "type", "job", "failures", "first error", "reason", "dead-lettered")
    for letter in letters:
        table.add_row(
            letter.id,
            letter.type,
            letter.job_id or "-",
            str(letter.failures),
            (letter.first_error or "-")[:120],
            letter.reason or "-",
            f"{letter.dead_lettered_at:%Y-%m-%d %H:%M:%S}",
        )
    console.print(table)
    console.print(f"{len(letters)} dead letter(s)")


def _chosen(
    desk: DeadLetterDesk, letter: str | None, queue: str | None, job: str | None, every: bool
) -> Awaitable[list[DeadLetter]]:
    if letter is None and queue is None and job is None and not every:
        raise typer.BadParameter("name a letter, or choose with --queue, --job or --all")
    return desk.find(letter=letter, queue=queue, job_id=job)


@dlq.command("requeue")
def requeue(
    letter: LetterArg = None, queue: QueueOpt = None, job: JobOpt = None, every: AllOpt = False
) -> None:
    """Send letters back to the queue they came from, as they were published."""

    async def act(desk: DeadLetterDesk) -> int:
        chosen = await _chosen(desk, letter, queue, job, every)
        await desk.requeue(chosen)
        return len(chosen)

    typer.echo(json.dumps({"requeued": _with(dead_letter_desk, act)}))


@dlq.command("drop")
def drop(
    letter: LetterArg = None, queue: QueueOpt = None, job: JobOpt = None, every: AllOpt = False
) -> None:
    """Forget letters for good."""

    async def act(desk: DeadLetterDesk) -> int:
        chosen = await _chosen(desk, letter, queue, job, every)
        await desk.drop(chosen)
        return len(chosen)

    typer.echo(json.dumps({"dropped": _with(dead_letter_desk, act)}))
