"""A scripted webhook receiver: the customer's server in webhook tests, run as its own process.

    PUT  /_hooks/<key>           script a receiver: {"secret": "whsec_...", "responses":
                                 [{"status": 500}, {"status": 200, "delay": 3}, ...],
                                 "default": {"status": 200}} (answers are spent one per request)
    GET  /_hooks/<key>/received  what arrived, in order
    GET  /_health                200 once listening
    POST /hooks/<key>            a delivery: checked with the Standard Webhooks reference
                                 library (`standardwebhooks`), recorded, then answered as scripted

Everything (scripts, answers spent, deliveries received) is kept in a state file, so a receiver
stopped for a while ("down") and started again on the same port with the same file goes on
where it was. Each received delivery records its `webhook-id`, whether its signature verified
(and why not), its parsed body, the answer given and when it arrived. An answer's `delay` is
slept before answering (a slow receiver); the delivery is recorded on arrival all the same.
Run with `python -m jobyard_testing.webhook_standin --port N --state FILE`; tests use
`jobyard_testing.webhook_receiver`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

from standardwebhooks import Webhook, WebhookVerificationError

from jobyard_testing.serving import serve_until_stopped

HOOK_PATH = re.compile(r"^/hooks/([\w.-]+)")
SCRIPT_PATH = re.compile(r"^/_hooks/([\w.-]+)$")
RECEIVED_PATH = re.compile(r"^/_hooks/([\w.-]+)/received$")
DEFAULT_ANSWER = {"status": 200}


class Receivers:
    """The scripted receivers and what they got, saved to `path` after every change."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._state: dict[str, Any] = (
            json.loads(path.read_text()) if path.exists() else {"hooks": {}, "received": {}}
        )

    def script(self, key: str, raw: dict[str, Any]) -> None:
        with self._lock:
            self._state["hooks"][key] = {
                "secret": raw.get("secret"),
                "responses": list(raw.get("responses", [])),
                "default": raw.get("default", DEFAULT_ANSWER),
            }
            self._save()

    def received(self, key: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state["received"].get(key, []))

    def receive(self, key: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        """Record a delivery and spend the answer it gets."""
        with self._lock:
            hook = self._state["hooks"].setdefault(
                key, {"secret": None, "responses": [], "default": DEFAULT_ANSWER}
            )
            answer = hook["responses"].pop(0) if hook["responses"] else hook["default"]
            verified, problem = _verify(hook["secret"], body, headers)
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            self._state["received"].setdefault(key, []).append(
                {
                    "webhook_id": headers.get("webhook-id"),
                    "timestamp": headers.get("webhook-timestamp"),
                    "verified": verified,
                    "problem": problem,
                    "body": parsed,
                    "answer": answer,
                    "at": time.time(),
                }
            )
            self._save()
            return dict(answer)

    def _save(self) -> None:
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._state))
        os.replace(temporary, self._path)


def _verify(secret: str | None, body: bytes, headers: dict[str, str]) -> tuple[bool, str]:
    if not secret:
        return False, "no secret scripted"
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError as exc:
        return False, str(exc)
    return True, ""


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], receivers: Receivers) -> None:
        super().__init__(address, Handler)
        self.receivers = receivers


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jobyard-webhook-standin"

    @property
    def receivers(self) -> Receivers:
        return cast(ReceiverServer, self.server).receivers

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _answer(self, status: int, body: Any = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/_health":
            self._answer(200, {"status": "ok"})
        elif match := RECEIVED_PATH.match(self.path):
            self._answer(200, self.receivers.received(match.group(1)))
        else:
            self._answer(404, {"error": "no such path"})

    def do_PUT(self) -> None:
        if match := SCRIPT_PATH.match(self.path):
            self.receivers.script(match.group(1), json.loads(self._body()))
            self._answer(200)
        else:
            self._answer(404, {"error": "no such path"})

    def do_POST(self) -> None:
        match = HOOK_PATH.match(self.path)
        if match is None:
            self._answer(404, {"error": "no such path"})
            return
        body = self._body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        answer = self.receivers.receive(match.group(1), body, headers)
        time.sleep(float(answer.get("delay", 0)))
        # The sender may have given up waiting (a slow answer): then there is no one to tell.
        with contextlib.suppress(OSError):
            self._answer(int(answer.get("status", 200)), {"received": True})

    def log_message(self, format: str, *args: Any) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted webhook receiver.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True, help="where everything is kept")
    args = parser.parse_args()
    server = ReceiverServer((args.host, args.port), Receivers(args.state))
    serve_until_stopped(
        server, f"webhook stand-in listening on http://{args.host}:{args.port}/hooks/"
    )


if __name__ == "__main__":
    main()
