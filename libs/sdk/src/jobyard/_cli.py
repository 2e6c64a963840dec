"""What the commands of `cli.py`, `cli_agent.py` and `cli_files.py` share: consoles, common
options, error messages instead of tracebacks, the human and JSON forms of answers, and uploads
with a progress bar (`--input`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from jobyard._transfer import TransferProgress
from jobyard.client import Jobyard
from jobyard.errors import JobyardError
from jobyard.models import File, Job

out = Console()
err = Console(stderr=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
JobId = Annotated[str, typer.Argument(help="The job's id.")]
EnvOption = Annotated[list[str], typer.Option("--env", "-e", help="NAME=VALUE, repeatable.")]
InputOption = Annotated[
    list[str],
    typer.Option(
        "--input",
        help="A local file to upload, or the id of an uploaded one (file-...), that the job "
        "finds under /workspace/inputs/; repeatable.",
    ),
]
FILE_ID_PREFIX = "file-"

COLOURS = {
    "completed": "green",
    "failed": "red",
    "stopped": "yellow",
    "cancelled": "yellow",
    "paused": "magenta",
    "waiting_for_input": "magenta",
}


@contextmanager
def errors_as_messages() -> Iterator[None]:
    """A refused request is a one-line message and exit code 1, not a traceback."""
    try:
        yield
    except JobyardError as exc:
        detail = "".join(f"\n  {e['field']}: {e['message']}" for e in getattr(exc, "errors", []))
        err.print(f"[red]error:[/red] {exc.message}{detail}")
        raise typer.Exit(1) from None


def client() -> Jobyard:
    with errors_as_messages():
        return Jobyard()


def emit(
    value: BaseModel | Sequence[BaseModel] | dict[str, Any],
    as_json: bool,
    human: Callable[[], None],
) -> None:
    if not as_json:
        human()
        return
    if isinstance(value, BaseModel):
        data: Any = value.model_dump(mode="json")
    elif isinstance(value, dict):
        data = value
    else:
        data = [v.model_dump(mode="json") for v in value]
    out.print_json(json.dumps(data))


def status_text(job: Job) -> Text:
    return Text(job.status, style=COLOURS.get(job.status, "cyan"))


def describe(job: Job) -> None:
    out.print(Text.assemble((job.id, "bold"), f"  {job.name}  ", status_text(job)))
    details = (
        f"vcpus {job.vcpus}, memory {job.memory_mb} MB, created {job.created_at:%Y-%m-%d %H:%M:%S}"
    )
    if job.duration_seconds is not None:
        details += f", ran {job.duration_seconds:.1f}s"
    out.print(f"  {details}")
    if job.kind == "agent":
        out.print(Text(f"  instruction: {job.instruction}"))
        if job.progress:
            done, total = job.progress.completed_steps, job.progress.total_steps
            out.print(f"  {done} of {total} steps done")
        if job.summary:
            out.print(Text(f"  summary: {job.summary}"))
    if job.exit_code is not None:
        out.print(f"  exit code {job.exit_code}" + (f" ({job.reason})" if job.reason else ""))
    if job.status == "failed" and job.stderr_tail:
        out.print("  stderr tail:")
        for line in job.stderr_tail.splitlines():
            out.print(f"    {line}", markup=False, highlight=False)


def parse_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE", param_hint="--env")
        env[name] = value
    return env


@contextmanager
def transfer_bar(description: str) -> Iterator[TransferProgress | None]:
    """A progress bar on stderr (bytes, speed, time left), only where stderr is a terminal:
    piped or captured output stays free of redraws."""
    if not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def upload(jobyard: Jobyard, path: Path, name: str | None = None) -> File:
    with transfer_bar(f"upload {name or path.name}") as progress:
        return jobyard.files.upload(path, name=name, progress=progress)


def input_ids(jobyard: Jobyard, inputs: list[str]) -> list[str]:
    """The file ids of `--input` values: local files are uploaded (all checked before the
    first upload); other values must be file ids. A local file wins over an id of its name."""
    for value in inputs:
        if not Path(value).is_file() and not value.startswith(FILE_ID_PREFIX):
            raise typer.BadParameter(
                f"{value!r} is neither a local file nor a file id", param_hint="--input"
            )
    return [upload(jobyard, Path(value)).id if Path(value).is_file() else value for value in inputs]
