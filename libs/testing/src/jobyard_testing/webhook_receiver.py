"""The test side of the webhook stand-in: run it as a process, script it, read what arrived,
and take it down and up again (`stop()` / `start()` keep its port and state)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobyard_testing.stack import free_port


class WebhookReceiver:
    """A `webhook_standin` process on a fixed port, with its state file."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.state = directory / "webhook-standin.json"
        self.log_path = directory / "webhook-standin.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, key: str) -> str:
        """Where deliveries for `key` go (a webhook endpoint's URL)."""
        return f"{self.base}/hooks/{key}"

    def start(self, ready_within: float = 10.0) -> None:
        """Start listening (again, after `stop()`: same port, same scripts and deliveries)."""
        command = [sys.executable, "-m", "jobyard_testing.webhook_standin"]
        command += ["--port", str(self.port), "--state", str(self.state)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.base}/_health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"webhook stand-in did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        """Stop listening: deliveries meet a refused connection until `start()`."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def script(
        self,
        key: str,
        secret: str | None,
        responses: list[dict[str, Any]] | None = None,
        default: dict[str, Any] | None = None,
    ) -> None:
        """Answers for `key`'s deliveries, one per request, then `default` (200)."""
        body = {
            "secret": secret,
            "responses": responses or [],
            "default": default or {"status": 200},
        }
        httpx.put(f"{self.base}/_hooks/{key}", json=body, timeout=5).raise_for_status()

    def received(self, key: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base}/_hooks/{key}/received", timeout=5)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()
        return found


def unique_hook(prefix: str = "hook") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def webhook_receiver(tmp_path: Path) -> Iterator[WebhookReceiver]:
    """A receiver of its own for one test (tests take it down and up)."""
    receiver = WebhookReceiver(tmp_path)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
