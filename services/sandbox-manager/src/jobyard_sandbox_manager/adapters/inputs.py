"""The job's input files, copied from object storage into /workspace/inputs/ by the host
before the sandbox starts (never through the gateway)."""

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
    folder = workspace / workspaces.INPUTS_FOLDER
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        folder.unlink()
    folder.mkdir(exist_ok=True)
    os.chown(folder, *owner)
    mtime_ns = workspaces.input_mtime_ns(job)
    for item in job.inputs:
        target = folder / item.name
        info = os.lstat(target) if os.path.lexists(target) else None
        if info is not None and info.st_size == item.size and info.st_mtime_ns == mtime_ns:
            continue
        if info is not None and not stat.S_ISDIR(info.st_mode):
            target.unlink()  # replaced by rename, so a link there is never written through
        store.download_file(item.object_key, target)
        os.chown(target, *owner)
        os.utime(target, ns=(mtime_ns, mtime_ns))
