"""Each job's disk: an ext4 filesystem in a sparse file, loop-mounted on the host.

The host's root filesystem has no project quotas, so a size limit needs a filesystem of its own:
writes stop at its size whatever the job does, and the host sees the files (file-sync reads
them). `workspace/`, `home/` and `tmp/` inside it become the sandbox's /workspace, home and /tmp.
Needs root on the host (mount), like the Docker socket the sandbox-manager already holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import subprocess
from pathlib import Path

FOLDERS = ("workspace", "home", "tmp")
_LIBC = ctypes.CDLL(None, use_errno=True)
_MS_BIND = 4096
_MNT_DETACH = 2


class Disks:
    def __init__(self, root: Path) -> None:
        self._root = root

    def path(self, key: str) -> Path:
        return self._root / key

    def ensure(self, key: str, size_mb: int, owner: tuple[int, int]) -> Path:
        """Create (once) and mount (if not mounted) the disk; returns where it is mounted."""
        mount_point, image = self.path(key), self._image(key)
        if not os.path.ismount(mount_point):
            self._mount(image, mount_point, size_mb)
        for folder in FOLDERS:  # every time: a crash may have come between mount and mkdir
            path = mount_point / folder
            path.mkdir(exist_ok=True)
            os.chown(path, *owner)
        (mount_point / "tmp").chmod(0o1777)
        return mount_point

    def _mount(self, image: Path, mount_point: Path, size_mb: int) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        if not image.exists():
            partial = image.with_suffix(".partial")
            with partial.open("wb") as sparse:
                sparse.truncate(size_mb * 1024 * 1024)
            _run("mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard", str(partial))
            partial.rename(image)
        mount_point.mkdir(exist_ok=True)
        _run("mount", "-o", "loop,nosuid,nodev", str(image), str(mount_point))

    def exists(self, key: str) -> bool:
        return os.path.ismount(self.path(key)) or self._image(key).exists()

    def keys(self, prefix: str) -> list[str]:
        """Disks on this host whose key starts with `prefix`, mounted or not."""
        if not self._root.is_dir():
            return []
        found = {p.name.removesuffix(".img") for p in self._root.iterdir()}
        return sorted(
            key for key in found if key.startswith(prefix) and not key.endswith(".partial")
        )

    def adopt(self, source: str, key: str) -> None:
        """Hand a prepared disk (a pool member's) over to `key`: mounted there too, its image
        renamed, then unmounted from its old place. Each step leaves a usable state, so a
        crash between them loses nothing and never mounts one image twice."""
        target = self.path(key)
        target.mkdir(parents=True, exist_ok=True)
        if not os.path.ismount(target):
            _bind(self.path(source), target)
        if self._image(source).exists():
            os.replace(self._image(source), self._image(key))
        if os.path.ismount(self.path(source)):
            _detach(self.path(source))
        with contextlib.suppress(FileNotFoundError):
            self.path(source).rmdir()

    def free_bytes(self, key: str) -> int | None:
        mount_point = self.path(key)
        if not os.path.ismount(mount_point):
            return None
        stats = os.statvfs(mount_point)
        return stats.f_bavail * stats.f_frsize

    def release(self, key: str) -> None:
        """Unmount and delete the disk and everything on it."""
        mount_point = self.path(key)
        if os.path.ismount(mount_point):
            _detach(mount_point)
        shutil.rmtree(mount_point, ignore_errors=True)
        self._image(key).unlink(missing_ok=True)

    def _image(self, key: str) -> Path:
        return self._root / f"{key}.img"


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


# mount(2) and umount2(2) called directly: `mount --bind` and `umount --lazy` as processes cost
# milliseconds on the way to a warm sandbox's first step.
def _bind(source: Path, target: Path) -> None:
    _syscall(_LIBC.mount(bytes(source), bytes(target), None, _MS_BIND, None), "mount", target)


def _detach(mount_point: Path) -> None:
    """Unmount now; whatever still uses it (a sandbox being removed) lets go later."""
    _syscall(_LIBC.umount2(bytes(mount_point), _MNT_DETACH), "umount", mount_point)


def _syscall(result: int, name: str, path: Path) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}", str(path))
