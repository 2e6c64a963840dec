"""Where a job's workspace lives on its host: shared by the sandbox-manager, which makes it, and
file-sync, which saves what the job writes there."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from jobyard_contracts import WireNames
from jobyard_store.documents import INPUTS_FOLDER as INPUTS_FOLDER
from jobyard_store.documents import JobDocument

WORKSPACE_FOLDER = "workspace"


def default_host_id() -> str:
    """This machine's name as a host id (host ids end routing keys and queue names: no dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname())


def disk_key(names: WireNames, job: JobDocument) -> str:
    """A stateful job's disk belongs to its owner and name; any other job's to the job. Also
    the name of the Docker volume that shows its workspace."""
    if job.stateful:
        return stateful_disk_key(names, job.user_id, job.name)
    return job_disk_key(names, job.id)


def job_disk_key(names: WireNames, job_id: str) -> str:
    return f"{names.namespace}-{job_id}-workspace"


def stateful_disk_key(names: WireNames, user_id: str, name: str) -> str:
    return f"{names.namespace}-ws-{user_id}-{name}"


def host_dir(state_dir: Path, names: WireNames, host_id: str) -> Path:
    """Everything of one host's sandboxes: `disks/<key>` (each job's mounted disk) and
    `inboxes/`."""
    return state_dir / names.namespace / host_id


def workspace_dir(host: Path, names: WireNames, job: JobDocument) -> Path:
    return host / "disks" / disk_key(names, job) / WORKSPACE_FOLDER


def input_mtime_ns(job: JobDocument) -> int:
    """The modification time the host gives the inputs it copies in: a file there with another
    time was changed by the job (so it is an output)."""
    return int(job.created_at.timestamp()) * 1_000_000_000
