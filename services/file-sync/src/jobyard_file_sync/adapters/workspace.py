"""Reading a job's workspace from the host without ever leaving it.

The job controls everything in it: a symlink (or a folder swapped for one between a scan and an
open) could point at a host file. So the walk never follows links, and a file is opened one
component at a time relative to the workspace with `O_NOFOLLOW`, then checked to be a regular
file. Hard links cannot reach host files: the workspace is a filesystem of its own.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from jobyard_file_sync.domain.outputs import FileStat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


class NotARegularFileError(OSError):
    pass


def scan(root: Path) -> Iterator[FileStat]:
    """Every regular file under `root` (links and special files skipped), paths relative."""
    stack = [("", root)]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue  # removed (or replaced) while we walked: the next scan sees what is there
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append((f"{rel}/", Path(entry.path)))
            elif stat.S_ISREG(info.st_mode):
                yield FileStat(path=rel, size=info.st_size, mtime_ns=info.st_mtime_ns)


def open_file(root: Path, rel: str) -> tuple[BinaryIO, FileStat]:
    """Open `rel` under `root` for reading without following any link; with its stat now."""
    parts = rel.split("/")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)
    info = os.fstat(file_fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(file_fd)
        raise NotARegularFileError(f"{rel} is not a regular file")
    os.set_blocking(file_fd, True)
    source = os.fdopen(file_fd, "rb")
    return source, FileStat(path=rel, size=info.st_size, mtime_ns=info.st_mtime_ns)
