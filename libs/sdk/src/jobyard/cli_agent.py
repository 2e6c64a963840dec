"""`jobyard agent ...`: start agent jobs, follow them live, answer their questions.

pause, resume, cancel and status are the top-level commands, which serve every job.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from jobyard import _agent
from jobyard._cli import (
    EnvOption,
    InputOption,
    JobId,
    JsonOption,
    client,
    describe,
    emit,
    err,
    errors_as_messages,
    input_ids,
    out,
    parse_env,
)
from jobyard.agent_view import render
from jobyard.client import Jobyard
from jobyard.errors import ConflictError
from jobyard.models import Job, Message, Prompt
from jobyard.steps import STEP_SYNTAX, parse_step

agent = typer.Typer(
    help="Agent jobs: give an instruction (and optionally steps), follow the plan, answer.",
    no_args_is_help=True,
)

MessageText = Annotated[str, typer.Argument(help="The message.")]


@agent.command()
def start(
    instruction: Annotated[str, typer.Argument(help="What the job should do.")],
    step: Annotated[
        list[str],
        typer.Option(
            "--step",
            help=f"An explicit step, repeatable; steps run in the order given. {STEP_SYNTAX}",
        ),
    ] = [],  # noqa: B006
    chat: Annotated[str | None, typer.Option(help="Chat id the job belongs to.")] = None,
    name: Annotated[str | None, typer.Option(help="Name of the job.")] = None,
    image: Annotated[str, typer.Option(help="Sandbox image (see `jobyard images`).")] = "base",
    network: Annotated[str, typer.Option(help="Network policy: none or internet.")] = "none",
    vcpus: Annotated[int, typer.Option(help="CPU cores.")] = 1,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="Memory limit in MB.")] = 512,
    env: EnvOption = [],  # noqa: B006
    timeout: Annotated[int | None, typer.Option(help="Seconds a step may run.")] = None,
    session_seconds: Annotated[
        int | None, typer.Option("--session-seconds", help="Execution budget of a session.")
    ] = None,
    disk_mb: Annotated[int | None, typer.Option("--disk-mb", help="Disk of the job, MB.")] = None,
    inputs: InputOption = [],  # noqa: B006
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--detach", help="Follow it live (exit code 0 if it completes) or return."
        ),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Start an agent job; without --step a language model plans the work.

    \b
    Steps run in the order given, for example:
      --step 'fetch::curl -sO https://example.org/a.csv'   (a bash script)
      --step 'clean::@drop the empty rows of a.csv'        (an instruction)
      --step 'publish::?Publish it?::yes,no'               (a question)
    """
    try:
        steps = [parse_step(text) for text in step]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--step") from None
    jobyard = client()
    with errors_as_messages():
        job = jobyard.agent_jobs.start(
            instruction,
            steps=steps,
            chat_id=chat,
            name=name,
            vcpus=vcpus,
            memory_mb=memory_mb,
            image=image,
            network=network,
            env=parse_env(env),
            timeout=timeout,
            session_seconds=session_seconds,
            disk_mb=disk_mb,
            inputs=input_ids(jobyard, inputs),
        )
    if not follow:
        emit(job, as_json, lambda: describe(job))
        return
    if not as_json:
        out.print(f"started {job.id}")
    watch(jobyard, job.id, as_json)


@agent.command("follow")
def follow_job(job_id: JobId, as_json: JsonOption = False) -> None:
    """Follow a job live and answer its questions; exit code 0 if it completes, else 1.

    With --json: one JSON object per change (JSON lines), never a question asked."""
    watch(client(), job_id, as_json)


def watch(jobyard: Jobyard, job_id: str, as_json: bool) -> None:
    try:
        with errors_as_messages():
            job = json_lines(jobyard, job_id) if as_json else live(jobyard, job_id)
    except KeyboardInterrupt:
        err.print(f"stopped following; the job goes on (jobyard agent follow {job_id})")
        raise typer.Exit(130) from None
    raise typer.Exit(0 if job.status == "completed" else 1)


def json_lines(jobyard: Jobyard, job_id: str) -> Job:
    for job in jobyard.agent_jobs.follow(job_id):
        print(job.model_dump_json(), flush=True)
    return job


def live(jobyard: Jobyard, job_id: str) -> Job:
    """The live view. Each new question is asked once, below the view as it stands, and a new
    view follows the answer. Where stdout is not a terminal, the view is printed at each
    question and at the end."""
    asked: set[str] = set()
    view = Live(console=out, auto_refresh=False)
    view.start()
    try:
        for job in jobyard.agent_jobs.follow(job_id, output=True):
            view.update(render(job), refresh=True)
            prompt = _agent.waiting_on(job)
            if prompt is None or prompt.id in asked:
                continue
            asked.add(prompt.id)
            stop(view)
            reply(jobyard, job_id, prompt)
            view = Live(console=out, auto_refresh=False)
            view.start()
    finally:
        stop(view)
    return job


def stop(view: Live) -> None:
    if view.is_started:
        view.stop()
        if not out.is_terminal:  # rich ends a live view with a new line only on terminals
            out.line()


def reply(jobyard: Jobyard, job_id: str, prompt: Prompt) -> None:
    text = read_answer(prompt)
    if text is None:
        err.print(f"no answer on stdin: answer with `jobyard agent answer {job_id} TEXT`")
        return
    try:
        jobyard.agent_jobs.answer(job_id, text, prompt_id=prompt.id)
    except ConflictError as exc:  # answered elsewhere meanwhile, or the job ended
        err.print(f"[yellow]not sent:[/yellow] {exc.message}")


def read_answer(prompt: Prompt) -> str | None:
    """One line from the terminal or a pipe (None at its end); a choice's number picks it."""
    hint = f"1-{len(prompt.choices)} or text" if prompt.choices else "text"
    while True:
        try:
            line = out.input(Text.assemble(("answer", "bold"), f" ({hint}): "))
        except EOFError:
            out.line()
            return None
        if not sys.stdin.isatty():
            out.print(line, markup=False, highlight=False)  # what a terminal would have echoed
        if line.strip():
            return _agent.resolve_answer(line, prompt.choices)


@agent.command()
def message(job_id: JobId, text: MessageText, as_json: JsonOption = False) -> None:
    """Send the job a message (while it waits for input, this answers its question)."""
    with errors_as_messages():
        sent = client().agent_jobs.send_message(job_id, text)
    emit(sent, as_json, lambda: out.print(f"sent {sent.id}"))


@agent.command()
def answer(
    job_id: JobId,
    text: Annotated[str, typer.Argument(help="The answer; a choice's number picks it.")],
    as_json: JsonOption = False,
) -> None:
    """Answer the question the job waits on."""
    jobyard = client()
    with errors_as_messages():
        prompt = _agent.pending_prompt(jobyard.agent_jobs.get(job_id))
        chosen = _agent.resolve_answer(text, prompt.choices)
        sent = jobyard.agent_jobs.answer(job_id, chosen, prompt_id=prompt.id)
    emit(sent, as_json, lambda: out.print(Text(f"answered: {sent.text}")))


@agent.command()
def messages(job_id: JobId, as_json: JsonOption = False) -> None:
    """The job's whole conversation, oldest first."""
    with errors_as_messages():
        found = client().agent_jobs.messages(job_id)

    def show() -> None:
        for found_message in found:
            out.print(conversation_line(found_message))

    emit(found, as_json, show)


def conversation_line(message: Message) -> Text:
    who = ("agent", "bold cyan") if message.role == "agent" else ("you", "bold")
    return Text.assemble((f"{message.at:%H:%M:%S} ", "dim"), who, ": ", message.text)


@agent.command("list")
def list_agent_jobs(
    chat: Annotated[str | None, typer.Option(help="Only jobs of this chat.")] = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your agent jobs, newest first."""
    with errors_as_messages():
        jobs = client().agent_jobs.list(status=status, chat_id=chat, limit=limit)

    def table() -> None:
        grid = Table()
        grid.add_column("id", no_wrap=True, min_width=24)
        for column in ("title", "status", "progress", "chat", "created"):
            grid.add_column(column)
        for job in jobs:
            progress = (
                f"{job.progress.completed_steps}/{job.progress.total_steps}" if job.progress else ""
            )
            created = f"{job.created_at:%Y-%m-%d %H:%M}"
            grid.add_row(
                job.id,
                Text(job.title or job.name),
                job.status,
                progress,
                job.chat_id or "",
                created,
            )
        out.print(grid)

    emit(jobs, as_json, table)
