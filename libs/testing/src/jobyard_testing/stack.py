"""The whole stack as real processes: each service started like `make up` does, but under a
fresh namespace (queues, exchanges, database, containers) so test runs never see each other."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from jobyard import create_user

SERVICES = ("scheduler", "agent", "sandbox-manager", "file-sync", "notifications", "gateway")
HEALTH_PATH = {"gateway": "/readyz"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def accepting(port: int) -> bool:
    """Whether something accepts connections on this port of 127.0.0.1."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class StandInProcess:
    """`jobyard-mongo-standin` started by a test on a port of its own: in memory, or on a
    SQLite file so that it comes back with its data after a kill."""

    def __init__(self, port: int, path: Path | str = ":memory:") -> None:
        self.path, self.port = path, port
        self.url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [bin_path("jobyard-mongo-standin"), "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "--path", str(self.path)], stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if accepting(self.port):
                return
            time.sleep(0.1)
        raise TimeoutError("the MongoDB stand-in did not start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


@dataclass
class Stack:
    namespace: str
    env: dict[str, str]
    log_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def start(
        self,
        service: str,
        *,
        instance: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Start a service; `instance` names another copy of it (e.g. a second sandbox host)
        with its own `env` on top of the stack's."""
        name = instance or service
        port = self.ports.setdefault(name, free_port())
        prefix = {"sandbox-manager": "SANDBOX", "file-sync": "FILESYNC"}.get(
            service, service.upper()
        )
        environment = {**os.environ, **self.env, **self.extra_env.setdefault(name, env or {})}
        key = f"JOBYARD_{prefix}_{'PORT' if service == 'gateway' else 'HEALTH_PORT'}"
        environment[key] = str(port)
        log = (self.log_dir / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [bin_path(f"jobyard-{service}")], env=environment, stdout=log, stderr=subprocess.STDOUT
        )
        self.wait_healthy(name, timeout)

    def wait_healthy(self, service: str, timeout: float = 60.0) -> None:
        url = f"http://127.0.0.1:{self.ports[service]}{HEALTH_PATH.get(service, '/healthz')}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[service]
            if process.poll() is not None:
                raise RuntimeError(
                    f"{service} exited with {process.returncode}: {self.log(service)}"
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{service} not healthy after {timeout}s: {self.log(service)}")

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hook runs, as when a machine or container dies."""
        process = self.processes.pop(service)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str) -> None:
        """SIGTERM: the service shuts down cleanly."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def log(self, service: str, last: int = 4000) -> str:
        path = self.log_dir / f"{service}.log"
        return path.read_text(errors="replace")[-last:] if path.exists() else ""

    def cli(
        self, *args: str, api_key: str | None = None, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the `jobyard` CLI against this stack (`stdin`: what the user types)."""
        env = {
            **os.environ,
            "JOBYARD_BASE_URL": self.base_url,
            "JOBYARD_ADMIN_TOKEN": self.env["JOBYARD_GATEWAY_ADMIN_TOKEN"],
        }
        if api_key:
            env["JOBYARD_API_KEY"] = api_key
        return subprocess.run(
            [bin_path("jobyard"), *args],
            env=env,
            check=check,
            capture_output=True,
            text=True,
            input=stdin,
        )

    def new_user(self, name: str) -> str:
        """A new user's API key, made through `POST /v1/users`."""
        return create_user(name, self.env["JOBYARD_GATEWAY_ADMIN_TOKEN"], self.base_url).api_key
