"""The job's input files, copied from object storage into /workspace/inputs/ by the host
before the sandbox starts (never through the gateway); a fork's restored files go back where
they were."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from jobyard_objects import ObjectStore
from jobyard_store import JobDocument, workspaces


def copy_inputs(
    store: ObjectStore, job: JobDocument, workspace: Path, owner: tuple[int, int]
) -> None:
    """Idempotent: an input already there as copied is left alone. The copies get a fixed
    modification time, which is how file-sync tells an input from an output.

    The workspace may hold what an earlier run (a stateful workspace, a generation before a
    hibernation) left: a link where the folder or a file goes is removed, never followed."""
    if not job.inputs:
        return
    mtime_ns = workspaces.input_mtime_ns(job)
    for item in job.inputs:
        target = _folder_of(workspace, item.workspace_path, owner) / Path(item.workspace_path).name
        info = os.lstat(target) if os.path.lexists(target) else None
        if info is not None and info.st_size == item.size and info.st_mtime_ns == mtime_ns:
            continue
        if info is not None and not stat.S_ISDIR(info.st_mode):
            target.unlink()  # replaced by rename, so a link there is never written through
        store.download_file(item.object_key, target)
        os.chown(target, *owner)
        os.utime(target, ns=(mtime_ns, mtime_ns))


def _folder_of(workspace: Path, path: str, owner: tuple[int, int]) -> Path:
    """The folder an input goes in (`inputs/`, or where a fork's restored file was), made as
    needed; a link or file where one of its folders goes is removed, never followed."""
    folder = workspace
    for part in Path(path).parts[:-1]:
        if part in ("", ".", "..") or part.startswith("/"):
            raise ValueError(f"not a workspace path: {path!r}")
        folder = folder / part
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink()
        if not folder.exists():
            folder.mkdir()
            os.chown(folder, *owner)
    return folder
