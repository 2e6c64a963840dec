"""The test side of the model stand-in: start it as a process, script it, read what it heard.

`jobyard_testing.model_standin` plays the LLM provider for the agent service's tests. A test
scripts a scenario under a fresh key, puts `scenario_tag(key)` into the job's instruction (the
agent sends that as the first user message, which is how the stand-in routes the request), points
the agent at `model_server.base_url`, and afterwards asserts on `model_server.requests(key)`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import pytest

from jobyard_testing.stack import free_port

MODEL_API_KEY = "test-key-never-logged"


def unique_key(prefix: str = "scenario") -> str:
    """A scenario key no other test uses (the server is shared by the session)."""
    return f"{prefix}-{secrets.token_hex(4)}"


def scenario_tag(key: str) -> str:
    """Text to put in the first user message so requests route to scenario `key`."""
    return f"[scenario:{key}]"


@dataclass
class ModelServer:
    """A running `model_standin` process and an HTTP client for its control endpoints."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    api_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What `openai.OpenAI(base_url=...)` takes."""
        return f"{self.url}/v1"

    @classmethod
    def start(
        cls,
        *,
        api_key: str | None = None,
        hang_seconds: float = 30.0,
        log_path: Path | None = None,
        ready_within: float = 10.0,
    ) -> ModelServer:
        """Launch `python -m jobyard_testing.model_standin` on a free port and wait until it
        answers `GET /_health`. Its stderr (one line per request) goes to `log_path`, by default
        `$JOBYARD_TEST_LOGS/model-standin.log` or a temporary file."""
        if log_path is None:
            log_dir = os.environ.get("JOBYARD_TEST_LOGS") or tempfile.mkdtemp(prefix="model-")
            log_path = Path(log_dir) / "model-standin.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        host, port = "127.0.0.1", free_port()
        command = [sys.executable, "-m", "jobyard_testing.model_standin", "--port", str(port)]
        command += ["--hang-seconds", str(hang_seconds)]
        if api_key is not None:
            command += ["--api-key", api_key]
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        server = cls(process, host, port, log_path, api_key)
        server._wait_ready(ready_within)
        return server

    def _wait_ready(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/_health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"model stand-in did not start; its log:\n{self.log_text()}")

    def script(self, key: str, scenario: dict[str, Any]) -> None:
        """Set (or replace, starting afresh) the scenario `key`; raises on a malformed one."""
        response = httpx.put(f"{self.url}/_scenarios/{key}", json=scenario, timeout=5)
        if response.status_code != 200:
            raise ValueError(response.json()["error"]["message"])

    def requests(self, key: str) -> list[dict[str, Any]]:
        """The requests of scenario `key` so far, in arrival order: each has `turn`, `attempt`,
        `model`, `messages`, `tools` (names offered), `outcome` and `at` (unix time)."""
        response = httpx.get(f"{self.url}/_scenarios/{key}/requests", timeout=5)
        response.raise_for_status()
        log: list[dict[str, Any]] = response.json()
        return log

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@pytest.fixture(scope="session")
def model_server() -> Iterator[ModelServer]:
    """The model stand-in, one process for the session; use a `unique_key()` per test. It
    demands `MODEL_API_KEY`, so a planner that does not send its key fails."""
    with ModelServer.start(api_key=MODEL_API_KEY) as server:
        yield server
