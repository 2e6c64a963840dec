"""`jobyard`: the command line of the SDK. Human output by default, `--json` for scripts.

Reads `JOBYARD_API_KEY` and `JOBYARD_BASE_URL` (and `JOBYARD_ADMIN_TOKEN` for `users create`).
Agent jobs have their own commands, `jobyard agent ...` (`cli_agent.py`), and so do files,
`jobyard files ...` (`cli_files.py`), webhooks and notifications (`cli_webhooks.py`).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

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
from jobyard.cli_agent import agent
from jobyard.cli_files import files
from jobyard.cli_webhooks import notifications, webhooks
from jobyard.client import Jobyard, create_user
from jobyard.models import Job

app = typer.Typer(help="Run long jobs in Jobyard sandboxes.", no_args_is_help=True)
users = typer.Typer(help="Users and API keys (operators).", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(agent, name="agent")
app.add_typer(files, name="files")
app.add_typer(webhooks, name="webhooks")
app.add_typer(notifications, name="notifications")


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="Name of the job.")],
    script: Annotated[
        str | None, typer.Option("--script", "-s", help="Bash script to run.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the script from a file.")
    ] = None,
    vcpus: Annotated[int, typer.Option(help="CPU cores.")] = 1,
    memory_mb: Annotated[int, typer.Option("--memory-mb", help="Memory limit in MB.")] = 512,
    env: EnvOption = [],  # noqa: B006
    timeout: Annotated[int | None, typer.Option(help="Seconds before the job is stopped.")] = None,
    stateful: Annotated[
        bool, typer.Option(help="Keep /workspace between runs of this name.")
    ] = False,
    persistent: Annotated[bool, typer.Option(help="Stay up with SSH until stopped.")] = False,
    ipv6_lease: Annotated[str | None, typer.Option("--ipv6-lease", help="IPv6 lease id.")] = None,
    image: Annotated[str, typer.Option(help="Sandbox image (see `jobyard images`).")] = "base",
    network: Annotated[str, typer.Option(help="Network policy: none or internet.")] = "none",
    inputs: InputOption = [],  # noqa: B006
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until it finishes.")] = False,
    follow: Annotated[
        bool, typer.Option("--follow", help="Print its output live; implies --wait.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create (and start) a job."""
    if (script is None) == (file is None):
        raise typer.BadParameter("give exactly one of --script or --file")
    source = script if script is not None else file.read_text()  # type: ignore[union-attr]
    jobyard = client()
    with errors_as_messages():
        job = jobyard.jobs.create(
            name,
            source,
            vcpus=vcpus,
            memory_mb=memory_mb,
            env=parse_env(env),
            timeout=timeout,
            stateful=stateful,
            persistent=persistent,
            ipv6_lease=ipv6_lease,
            image=image,
            network=network,
            inputs=input_ids(jobyard, inputs),
        )
        if follow:
            for line in jobyard.jobs.follow_logs(job.id):
                err.print(line, markup=False, highlight=False) if as_json else print(
                    line, flush=True
                )
            job = jobyard.jobs.get(job.id)
        elif wait:
            job = wait_with_progress(jobyard, job, quiet=as_json)
    emit(job, as_json, lambda: describe(job))
    if (wait or follow) and job.status != "completed":
        raise typer.Exit(1)


def wait_with_progress(jobyard: Jobyard, job: Job, quiet: bool) -> Job:
    started = time.monotonic()
    with err.status("", spinner="dots") as status:
        while not job.finished:
            if not quiet:
                status.update(f"{job.id} {job.status} ({time.monotonic() - started:.0f}s)")
            time.sleep(1)
            job = jobyard.jobs.get(job.id)
    return job


@app.command("list")
def list_jobs(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    name: Annotated[str | None, typer.Option(help="Only jobs of this name.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only script or agent jobs.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your jobs, newest first."""
    with errors_as_messages():
        jobs = client().jobs.list(status=status, name=name, limit=limit, kind=kind)

    def table() -> None:
        grid = Table()
        grid.add_column("id", no_wrap=True, min_width=24)
        for title in ("name", "kind", "status", "progress", "duration", "created"):
            grid.add_column(title)
        for job in jobs:
            progress = (
                f"{job.progress.completed_steps}/{job.progress.total_steps}" if job.progress else ""
            )
            duration = f"{job.duration_seconds:.1f}s" if job.duration_seconds is not None else ""
            created = f"{job.created_at:%Y-%m-%d %H:%M}"
            grid.add_row(job.id, job.name, job.kind, job.status, progress, duration, created)
        out.print(grid)

    emit(jobs, as_json, table)


@app.command()
def status(job_id: JobId, as_json: JsonOption = False) -> None:
    """A job's status and result."""
    with errors_as_messages():
        job = client().jobs.get(job_id)
    emit(job, as_json, lambda: describe(job))


@app.command()
def logs(
    job_id: JobId,
    tail: Annotated[int | None, typer.Option(help="Only the last N lines.")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until it ends.")
    ] = False,
) -> None:
    """A job's output (stdout and stderr, in order)."""
    jobyard = client()
    with errors_as_messages():
        if follow:
            for line in jobyard.jobs.follow_logs(job_id):
                print(line, flush=True)
        else:
            sys.stdout.write(jobyard.jobs.get_logs(job_id, tail=tail))


@app.command()
def ssh(job_id: JobId, as_json: JsonOption = False) -> None:
    """How to log in to a running persistent job."""
    with errors_as_messages():
        info = client().jobs.ssh(job_id)
    emit(info, as_json, lambda: print(info.command))


def _job_action(verb: str, summary: str) -> None:
    def command(job_id: JobId, as_json: JsonOption = False) -> None:
        with errors_as_messages():
            job = getattr(client().jobs, verb)(job_id)
        emit(job, as_json, lambda: describe(job))

    command.__doc__ = summary
    app.command(name=verb)(command)


_job_action("stop", "Stop a pending, running or paused job.")
_job_action("cancel", "Cancel a job for good; the files it produced so far stay.")
_job_action("pause", "Freeze a running job with its memory.")
_job_action("resume", "Continue a paused job where it stopped.")


@app.command()
def fork(
    job_id: JobId,
    from_seq: Annotated[
        int | None,
        typer.Option("--from-seq", min=1, help="The last event it keeps (default: the last)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Start a new job where this one was at an event (`GET /v1/jobs/ID/events` lists them): the
    steps done by then stay done, the workspace holds the files saved by then."""
    with errors_as_messages():
        job = client().jobs.fork(job_id, from_seq)
    emit(job, as_json, lambda: describe(job))


@app.command()
def delete(job_id: JobId, as_json: JsonOption = False) -> None:
    """Delete a job with its logs, container and workspace."""
    with errors_as_messages():
        result = client().jobs.delete(job_id)
    emit(result, as_json, lambda: out.print(f"deleted {job_id}"))


@app.command()
def images(as_json: JsonOption = False) -> None:
    """The sandbox images jobs may use, with what each contains."""
    with errors_as_messages():
        found = client().images.list()

    def show() -> None:
        for image in found:
            out.print(
                f"[bold]{image.name}[/bold]  {image.reference}  (hosts: {', '.join(image.hosts)})"
            )
            for group in ("tools", "python_libraries"):
                versions = image.manifest.get(group)
                if isinstance(versions, dict):
                    listed = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
                    out.print(f"  {group.replace('_', ' ')}: {listed}", highlight=False)

    emit(found, as_json, show)


@users.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="User name.")],
    admin_token: Annotated[
        str, typer.Option(envvar="JOBYARD_ADMIN_TOKEN", help="Gateway admin token.")
    ],
    base_url: Annotated[str | None, typer.Option(envvar="JOBYARD_BASE_URL")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user and print its API key (shown once)."""
    with errors_as_messages():
        user = create_user(name, admin_token, base_url)
    emit(user, as_json, lambda: print(user.api_key))
