"""The runners' inboxes: a host folder per sandbox, mounted read-only inside it, where the
sandbox-manager drops step requests (the script, then the request naming it, each written
whole and renamed into place so the runner never reads half a file)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

RUNNER = Path(__file__).resolve().parent.parent / "runner" / "jobyard_runner.py"
WAKE_PIPE = "wake"
"""The runner's wake-up pipe in each inbox (its name is the runner's `WAKE_PIPE`)."""


class Inboxes:
    def __init__(self, root: Path) -> None:
        self._root = root
        # Sandboxes mount the runner from the host: a copy under the inboxes' root is at the
        # same path on the host and in a containerised manager (its package folder is not).
        self.runner = root / ".runner" / RUNNER.name
        self.runner.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(self.runner, RUNNER.read_text())

    def create(self, sandbox: str) -> Path:
        path = self._root / sandbox
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
        wake = path / WAKE_PIPE
        if not wake.exists():
            os.mkfifo(wake)
            wake.chmod(0o666)  # the runner, whichever user it runs as, opens it read-write
        return path

    def request(
        self,
        sandbox: str,
        step: int,
        script: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        owner: tuple[int, int] | None = None,
    ) -> None:
        """Ask the sandbox's runner to run a step (idempotent: the runner runs it once). A
        request carrying the job's `env` (a warm sandbox's) is readable by `owner` only."""
        path = self.create(sandbox)
        _write_whole(path / f"step-{step}.sh", script)
        request: dict[str, object] = {"step": step, "argv": argv}
        if env is not None:
            request["env"] = env
        secret = env is not None and owner is not None
        _write_whole(path / f"step-{step}.json", json.dumps(request), owner if secret else None)
        _wake(path / WAKE_PIPE)

    def rename(self, sandbox: str, new_name: str) -> None:
        """A claimed pool member's inbox becomes its job's (the sandbox keeps it mounted)."""
        source = self._root / sandbox
        if source.is_dir():
            os.replace(source, self._root / new_name)

    def names(self, prefix: str) -> list[str]:
        return sorted(p.name for p in self._root.iterdir() if p.name.startswith(prefix))

    def remove(self, sandbox: str) -> None:
        shutil.rmtree(self._root / sandbox, ignore_errors=True)


def _wake(pipe: Path) -> None:
    """Tell a runner waiting on the pipe to look now; none waiting: it looks soon anyway."""
    try:
        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # no runner has it open (not started yet), or no pipe
        return
    try:
        os.write(fd, b"!")
    except BlockingIOError:  # full of earlier wake-ups it has not read yet
        pass
    finally:
        os.close(fd)


def _write_whole(path: Path, text: str, owner: tuple[int, int] | None = None) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    if owner is None:
        partial.chmod(0o644)
    else:
        partial.chmod(0o600)
        os.chown(partial, *owner)
    os.replace(partial, path)
