"""The in-sandbox runner: the main process of every job sandbox (under Docker's init).

It runs the steps the sandbox-manager drops into its read-only inbox, one at a time and each
exactly once, as its own process group, and writes everything that happens as one JSON record
per line on its stdout, which Docker stores on the host:

    {"t": "ready"}
    {"t": "start", "step": 0, "pid": 42}
    {"t": "out", "step": 0, "s": "o", "i": 17, "x": "a line"}   # s: o(ut) / e(rr); i: 1, 2, ...
    {"t": "exit", "step": 0, "code": 0}                         # 128 + signal when killed

Why records on stdout: the log Docker keeps outlives this process, the sandbox-manager and
even the container, so a manager restarted at any moment re-reads what it missed (by `i`, the
number of the output line in this sandbox) and sees every exit that happened while it was
down. Processes a step leaves running keep writing under that step's number.

Standard library only, Python 3.11 or newer: it runs inside the job's image.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time

INBOX = os.environ.get("JOBYARD_INBOX", "/run/jobyard/inbox")
POLL_SECONDS = 1.0
"""How often a runner looks at its step when nothing woke it: the step's output and its end
(SIGCHLD, through a pipe) wake it at once."""
INBOX_POLL_SECONDS = 0.01
"""How often an idle runner looks into its inbox: its next step starts this soon after, even
where the wake-up pipe does not work (a runtime may not pass a host's write through)."""
WAKE_PIPE = "wake"
"""A named pipe in the inbox that the sandbox-manager writes a byte to after each request: an
idle runner starts the step at once rather than at its next look."""
MAX_PARTIAL_BYTES = 65536
DRAIN_SECONDS = 0.1
MAX_LINE_CHARS = 2000  # even at 6 bytes a character (\u escapes) a record stays under 16 KiB


class Records:
    def __init__(self) -> None:
        self.lines = 0

    def emit(self, record: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")

    def output(self, step: int, stream: str, text: str) -> None:
        chunks = [text[i : i + MAX_LINE_CHARS] for i in range(0, len(text), MAX_LINE_CHARS)]
        for chunk in chunks or [""]:
            self.lines += 1
            self.emit({"t": "out", "step": step, "s": stream, "i": self.lines, "x": chunk})

    def flush(self) -> None:
        sys.stdout.flush()


class Pipe:
    """One output stream of a step (and of whatever it left running)."""

    def __init__(self, step: int, stream: str, fd: int) -> None:
        self.step, self.stream, self.fd = step, stream, fd
        self.partial = b""

    def feed(self, data: bytes, records: Records) -> None:
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            records.output(self.step, self.stream, line.decode("utf-8", errors="replace"))
        if len(self.partial) > MAX_PARTIAL_BYTES:  # a huge line without a newline: pass it on
            cut = MAX_PARTIAL_BYTES
            while cut > 0 and self.partial[cut] & 0xC0 == 0x80:  # not inside a UTF-8 character
                cut -= 1
            records.output(self.step, self.stream, self.partial[:cut].decode("utf-8", "replace"))
            self.partial = self.partial[cut:]

    def close(self, records: Records) -> None:
        if self.partial:
            records.output(self.step, self.stream, self.partial.decode("utf-8", errors="replace"))
            self.partial = b""
        os.close(self.fd)


COUNTERS = (
    ("oom", "/sys/fs/cgroup/memory/memory.oom_control", "oom_kill"),
    ("pids", "/sys/fs/cgroup/pids/pids.events", "max"),
)


def counters() -> dict[str, int]:
    """The sandbox's OOM kills and refused forks so far (cgroup v1, as runc mounts it), read
    at a step's start and exit so its end reason is exact; absent where unreadable (gVisor)."""
    found = {}
    for key, path, name in COUNTERS:
        try:
            with open(path) as source:
                for line in source:
                    field, _, value = line.partition(" ")
                    if field == name:
                        found[key] = int(value)
        except (OSError, ValueError):
            continue
    return found


def _first_to_go_when_memory_runs_out() -> None:
    # Raising one's own OOM score needs no privilege: when the sandbox runs out of memory the
    # kernel kills a step's process, never the runner, which then reports the step's end.
    with open("/proc/self/oom_score_adj", "w") as score:
        score.write("1000")


def _open_wake_pipe() -> int | None:
    try:
        # Opened for writing too, so that it never reads as closed between two wake-ups.
        return os.open(os.path.join(INBOX, WAKE_PIPE), os.O_RDWR | os.O_NONBLOCK)
    except OSError:
        return None  # an inbox without one, or a runtime that cannot share it: polling only


def _signal_pipe_on_child_exit() -> int:
    """A pipe a byte arrives on whenever a child process ends (its read end)."""
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that the signal is not lost
    return read


class Runner:
    def __init__(self) -> None:
        self.records = Records()
        self.selector = selectors.DefaultSelector()
        self.done: set[int] = set()
        self.current: tuple[int, subprocess.Popen[bytes], list[Pipe]] | None = None
        self.wake = _open_wake_pipe()
        # Registered without data: reading from either only wakes the loop.
        self.selector.register(_signal_pipe_on_child_exit(), selectors.EVENT_READ, None)
        if self.wake is not None:
            self.selector.register(self.wake, selectors.EVENT_READ, None)

    def next_request(self) -> tuple[int, list[str], dict[str, str]] | None:
        try:
            names = os.listdir(INBOX)
        except FileNotFoundError:
            return None
        pending = sorted(
            int(name[5:-5])
            for name in names
            if name.startswith("step-") and name.endswith(".json") and name[5:-5].isdigit()
        )
        for step in pending:
            if step not in self.done:
                with open(os.path.join(INBOX, f"step-{step}.json")) as source:
                    request = json.load(source)
                # A warm sandbox was started before its job was known: the job's env comes
                # with each request.
                return step, list(request["argv"]), dict(request.get("env", {}))
        return None

    def start(self, step: int, argv: list[str], env: dict[str, str]) -> None:
        self.done.add(step)
        try:
            process = subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                preexec_fn=_first_to_go_when_memory_runs_out,
            )
        except OSError as exc:  # e.g. no process left under the pids limit
            self.records.emit({"t": "start", "step": step, "pid": None})
            self.records.output(step, "e", f"jobyard: cannot start the step: {exc}")
            self.records.emit({"t": "exit", "step": step, "code": 126})
            self.records.flush()
            return
        assert process.stdout is not None
        assert process.stderr is not None
        pipes = [
            Pipe(step, "o", os.dup(process.stdout.fileno())),
            Pipe(step, "e", os.dup(process.stderr.fileno())),
        ]
        process.stdout.close()
        process.stderr.close()
        for pipe in pipes:
            os.set_blocking(pipe.fd, False)
            self.selector.register(pipe.fd, selectors.EVENT_READ, pipe)
        self.current = (step, process, pipes)
        self.records.emit({"t": "start", "step": step, "pid": process.pid, **counters()})
        self.records.flush()

    def read_ready(self, timeout: float) -> None:
        for key, _ in self.selector.select(timeout):
            if key.data is None:  # woken: the inbox and the step are looked at next
                with contextlib.suppress(BlockingIOError):
                    os.read(key.fd, 4096)
                continue
            pipe: Pipe = key.data
            try:
                data = os.read(pipe.fd, 65536)
            except BlockingIOError:
                continue
            if data:
                pipe.feed(data, self.records)
            else:
                self.selector.unregister(pipe.fd)
                pipe.close(self.records)
        self.records.flush()

    def finish_if_exited(self) -> None:
        if self.current is None:
            return
        step, process, pipes = self.current
        code = process.poll()
        if code is None:
            return
        # Take what the step wrote before exiting; processes it left behind may keep the pipes
        # open, so stop once they are quiet rather than waiting for the end of file.
        deadline = time.monotonic() + DRAIN_SECONDS
        while time.monotonic() < deadline and any(
            pipe.fd in self.selector.get_map() for pipe in pipes
        ):
            self.read_ready(0.02)
        for pipe in pipes:
            if pipe.partial:
                self.records.output(step, pipe.stream, pipe.partial.decode("utf-8", "replace"))
                pipe.partial = b""
        code = code if code >= 0 else 128 - code
        self.records.emit({"t": "exit", "step": step, "code": code, **counters()})
        self.records.flush()
        self.current = None

    def run(self) -> None:
        self.records.emit({"t": "ready"})
        self.records.flush()
        while True:
            if self.current is None:
                request = self.next_request()
                if request is not None:
                    self.start(*request)
            self.read_ready(POLL_SECONDS if self.current else INBOX_POLL_SECONDS)
            self.finish_if_exited()


if __name__ == "__main__":
    Runner().run()
