"""A scripted OpenAI-compatible Chat Completions server that stands in for the LLM provider.

The agent service talks to a model provider over the OpenAI Chat Completions API. Tests cannot
call a real provider (no network, no keys, answers that change), so they start this server as
its own process, the way a test webhook receiver stands in for a customer, and script it:

    PUT  /_scenarios/<key>           a scenario: the replies to give, turn by turn
    GET  /_scenarios/<key>/requests  what the agent sent, in arrival order
    GET  /_health                    200 once listening
    POST /v1/chat/completions        the provider's API

A request belongs to the scenario whose key occurs in its first user-role message (the agent puts
the job's instruction there, e.g. "[scenario:revise-1] Analyse ..."). Its *turn* is the number of
assistant-role messages it carries, so the answer depends only on the conversation so far: an
agent that crashes and resends the same conversation gets the same reply, with the same tool call
ids (`call_<turn>_<i>`). Failures (error statuses, hangs, garbage, malformed tool arguments) are
scripted per turn and spent one per attempt, so retries can be tested deterministically too.

Only the standard library is used, so the stand-in adds no dependencies. Run it with
`python -m jobyard_testing.model_standin --port N`; tests use `jobyard_testing.model_server`.
"""

from __future__ import annotations

import argparse
import json
import re
import select
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from jobyard_testing.serving import serve_until_stopped

FAILURE_MODES = ("timeout", "garbage", "bad_arguments", "empty")
STATUS_MODE = re.compile(r"status:([1-5]\d\d)")
REPLY_KEYS = {"content", "tool_calls", "delay", "usage", "finish_reason"}
TRUNCATED_ARGUMENTS = '{"command": '
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 429: "rate_limit_error"}


class ScenarioError(ValueError):
    """A scenario that cannot be played; the PUT answers 400 with this message."""


@dataclass
class Scenario:
    key: str
    turns: list[dict[str, Any]]
    failures: dict[int, list[str]]
    after_last: str
    attempts: dict[int, int] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """What to answer to one request, decided under the lock when it arrives."""

    key: str
    turn: int
    attempt: int
    failure: str | None  # the scripted failure mode this attempt spends, if any
    normal: str  # what it answers otherwise: "ok", "after_last" (error) or "no_reply"
    reply: dict[str, Any] | None

    @property
    def outcome(self) -> str:
        return self.failure or self.normal


def parse_scenario(key: str, raw: Any) -> Scenario:
    if not isinstance(raw, dict):
        raise ScenarioError("a scenario is a JSON object")
    _only(raw, {"turns", "failures", "after_last"}, "scenario")
    turns = raw.get("turns", [])
    if not isinstance(turns, list):
        raise ScenarioError("`turns` is a list")
    for n, turn in enumerate(turns):
        _check_turn(turn, f"turns[{n}]")
    failures = raw.get("failures", {})
    if not isinstance(failures, dict):
        raise ScenarioError("`failures` maps a turn number (string) to a list of modes")
    parsed: dict[int, list[str]] = {}
    for turn_key, modes in failures.items():
        if not str(turn_key).isdigit() or not isinstance(modes, list):
            raise ScenarioError(f"failures[{turn_key!r}]: a turn number maps to a list of modes")
        for mode in modes:
            if mode not in FAILURE_MODES and not STATUS_MODE.fullmatch(str(mode)):
                raise ScenarioError(f"failures[{turn_key!r}]: unknown mode {mode!r}")
        parsed[int(turn_key)] = [str(mode) for mode in modes]
    after_last = raw.get("after_last", "repeat_last")
    if after_last not in ("repeat_last", "error"):
        raise ScenarioError("`after_last` is 'repeat_last' or 'error'")
    return Scenario(key, turns, parsed, after_last)


def _only(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(obj) - allowed
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")


def _check_turn(turn: Any, where: str) -> None:
    if not isinstance(turn, dict):
        raise ScenarioError(f"{where}: a turn is a JSON object")
    if "when" not in turn and "otherwise" not in turn:
        _check_reply(turn, where)
        return
    _only(turn, {"when", "otherwise"}, where)
    if not isinstance(turn.get("when", []), list):
        raise ScenarioError(f"{where}: `when` is a list of {{contains, reply}}")
    for n, case in enumerate(turn.get("when", [])):
        if not isinstance(case, dict) or not isinstance(case.get("contains"), str):
            raise ScenarioError(f"{where}.when[{n}]: needs a `contains` string and a `reply`")
        _only(case, {"contains", "reply"}, f"{where}.when[{n}]")
        _check_reply(case.get("reply"), f"{where}.when[{n}].reply")
    if "otherwise" in turn:
        _check_reply(turn["otherwise"], f"{where}.otherwise")


def _check_reply(reply: Any, where: str) -> None:
    if not isinstance(reply, dict):
        raise ScenarioError(f"{where}: a reply is a JSON object")
    _only(reply, REPLY_KEYS, where)
    if reply.get("content") is not None and not isinstance(reply["content"], str):
        raise ScenarioError(f"{where}: `content` is a string or null")
    if not isinstance(reply.get("delay", 0), int | float):
        raise ScenarioError(f"{where}: `delay` is a number of seconds")
    if not isinstance(reply.get("usage", {}), dict):
        raise ScenarioError(f"{where}: `usage` is an object")
    calls = reply.get("tool_calls", [])
    if not isinstance(calls, list):
        raise ScenarioError(f"{where}: `tool_calls` is a list")
    for n, call in enumerate(calls):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScenarioError(f"{where}.tool_calls[{n}]: needs a `name`")
        _only(call, {"name", "arguments"}, f"{where}.tool_calls[{n}]")
        if not isinstance(call.get("arguments", {}), dict | str):
            raise ScenarioError(f"{where}.tool_calls[{n}]: `arguments` is an object or a string")


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of parts ({"type": "text", ...})."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class Standin:
    """The scenarios and their request logs, behind one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scenarios: dict[str, Scenario] = {}

    def put(self, key: str, raw: Any) -> None:
        scenario = parse_scenario(key, raw)
        with self._lock:
            self._scenarios[key] = scenario  # replacing a scenario starts it afresh

    def requests(self, key: str) -> list[dict[str, Any]] | None:
        with self._lock:
            scenario = self._scenarios.get(key)
            return None if scenario is None else list(scenario.log)

    def plan(self, body: dict[str, Any]) -> Plan | None:
        """Match the request to a scenario, count the attempt and log it; None if no scenario."""
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        first_user = next(
            (text_of(m.get("content")) for m in messages if m.get("role") == "user"), ""
        )
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        heard = "\n".join(
            text_of(m.get("content")) for m in messages if m.get("role") in ("user", "tool")
        )
        with self._lock:
            # The longest matching key wins, so "revise-1" never captures "revise-10".
            matching = [key for key in self._scenarios if key in first_user]
            if not matching:
                return None
            scenario = self._scenarios[max(matching, key=len)]
            attempt = scenario.attempts.get(turn, 0)
            scenario.attempts[turn] = attempt + 1
            failures = scenario.failures.get(turn, [])
            failure = failures[attempt] if attempt < len(failures) else None
            reply = _reply_for(scenario, turn, heard)
            if turn >= len(scenario.turns) and scenario.after_last == "error":
                normal = "after_last"
            else:
                normal = "ok" if reply is not None else "no_reply"
            plan = Plan(scenario.key, turn, attempt, failure, normal, reply)
            scenario.log.append(
                {
                    "turn": turn,
                    "attempt": attempt,
                    "model": body.get("model"),
                    "messages": messages,
                    "tools": [_tool_name(tool) for tool in body.get("tools") or []],
                    "outcome": plan.outcome,
                    "at": time.time(),
                }
            )
            return plan


def _reply_for(scenario: Scenario, turn: int, heard: str) -> dict[str, Any] | None:
    if not scenario.turns:
        return None
    entry = scenario.turns[min(turn, len(scenario.turns) - 1)]
    if "when" not in entry and "otherwise" not in entry:
        return entry
    for case in entry.get("when", []):
        if case["contains"] in heard:
            return cast(dict[str, Any], case["reply"])
    return cast(dict[str, Any] | None, entry.get("otherwise"))


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        function = tool.get("function")
        if isinstance(function, dict):
            return str(function.get("name", ""))
        return str(tool.get("name", ""))
    return ""


def completion(
    body: dict[str, Any], reply: dict[str, Any], turn: int, *, bad_arguments: bool
) -> dict[str, Any]:
    """A standard `chat.completion` for `reply`; with `bad_arguments`, the first tool call's
    arguments are cut off mid-JSON (a tool call is made up if the reply has none)."""
    calls = [dict(call) for call in reply.get("tool_calls", [])]
    if bad_arguments:
        offered = [_tool_name(tool) for tool in body.get("tools") or []]
        if not calls:
            calls = [{"name": offered[0] if offered else "run_command"}]
        calls[0]["arguments"] = TRUNCATED_ARGUMENTS
    functions = [
        {"name": str(call["name"]), "arguments": _arguments(call.get("arguments", {}))}
        for call in calls
    ]
    tool_calls = [
        {"id": f"call_{turn}_{i}", "type": "function", "function": function}
        for i, function in enumerate(functions)
    ]
    message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
    if tool_calls:
        message["tool_calls"] = tool_calls
    prompt_chars = sum(_message_chars(m) for m in body.get("messages", []) if isinstance(m, dict))
    reply_chars = len(message["content"] or "") + sum(
        len(f["name"]) + len(f["arguments"]) for f in functions
    )
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_chars // 4,
        "completion_tokens": max(1, reply_chars // 4),
    }
    usage.update(reply.get("usage", {}))
    usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.get("finish_reason", "tool_calls" if tool_calls else "stop"),
            }
        ],
        "usage": usage,
    }


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _message_chars(message: dict[str, Any]) -> int:
    chars = len(text_of(message.get("content")))
    for call in message.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        chars += len(str(function.get("name", ""))) + len(str(function.get("arguments", "")))
    return chars


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], *, api_key: str | None, hang: float) -> None:
        super().__init__(address, Handler)
        self.standin = Standin()
        self.api_key = api_key
        self.hang = hang


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jobyard-model-standin"
    note = ""

    @property
    def standin(self) -> Standin:
        return cast(StandinServer, self.server).standin

    def do_GET(self) -> None:
        self.note = ""
        if self.path == "/_health":
            self._json(200, {"status": "ok"})
        elif match := re.fullmatch(r"/_scenarios/([^/]+)/requests", self.path):
            log = self.standin.requests(match[1])
            if log is None:
                self._json(404, error_body(404, f"no scenario {match[1]!r}"))
            else:
                self._json(200, log)
        else:
            self._json(404, error_body(404, f"no route {self.path}"))

    def do_PUT(self) -> None:
        self.note = ""
        match = re.fullmatch(r"/_scenarios/([^/]+)", self.path)
        if match is None:
            self._json(404, error_body(404, f"no route {self.path}"))
            return
        try:
            self.standin.put(match[1], json.loads(self._body()))
        except (ValueError, ScenarioError) as exc:
            self._json(400, error_body(400, f"bad scenario: {exc}"))
            return
        self.note = f"scenario={match[1]}"
        self._json(200, {"key": match[1]})

    def do_POST(self) -> None:
        self.note = ""
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, error_body(404, f"no route {self.path}"))
            return
        api_key = cast(StandinServer, self.server).api_key
        if api_key is not None and self.headers.get("Authorization") != f"Bearer {api_key}":
            self._json(401, error_body(401, "Incorrect API key provided"))
            return
        try:
            body = json.loads(self._body())
        except ValueError:
            self._json(400, error_body(400, "the body is not JSON"))
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._json(400, error_body(400, "`messages` is required"))
            return
        if body.get("stream"):
            self._json(400, error_body(400, "the stand-in does not stream"))
            return
        plan = self.standin.plan(body)
        if plan is None:
            self._json(404, error_body(404, "no scenario matches"))
            return
        self.note = f"scenario={plan.key} turn={plan.turn} attempt={plan.attempt} {plan.outcome}"
        self._answer(body, plan)

    def _answer(self, body: dict[str, Any], plan: Plan) -> None:
        failure = plan.failure or ""
        if status := STATUS_MODE.fullmatch(failure):
            code = int(status[1])
            self._json(code, error_body(code, f"scripted failure (turn {plan.turn})"))
            return
        if failure == "garbage":
            self._send(200, b"<html>oops", "text/html")
            return
        if failure == "empty":
            self._json(200, {**completion(body, {}, plan.turn, bad_arguments=False), "choices": []})
            return
        hang = cast(StandinServer, self.server).hang if failure == "timeout" else 0.0
        delay = float((plan.reply or {}).get("delay", 0))
        if not self._wait(hang + delay):
            self.close_connection = True  # the client gave up: nobody to answer
            self._log(0)
            return
        if plan.normal == "after_last":
            self._json(500, error_body(500, f"scenario {plan.key} has no turn {plan.turn}"))
        elif plan.reply is None and failure != "bad_arguments":
            message = f"scenario {plan.key} has no reply for turn {plan.turn} (no `otherwise`?)"
            self._json(500, error_body(500, message))
        else:
            bad = failure == "bad_arguments"
            self._json(200, completion(body, plan.reply or {}, plan.turn, bad_arguments=bad))

    def _wait(self, seconds: float) -> bool:
        """Sleep `seconds`, or less if the client hangs up; False if it did."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], min(remaining, 0.1))
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):  # b"" means closed
                        return False
                except OSError:
                    return False
                time.sleep(min(remaining, 0.05))  # a pipelined request: keep waiting
        return True

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        self._log(status)

    def _log(self, status: int) -> None:
        """One line per request on stderr; status 0 when the client hung up before the answer."""
        note = f" {self.note}" if self.note else ""
        shown = status or "hung-up"
        print(
            f"model-standin: {self.command} {self.path} {shown}{note}", file=sys.stderr, flush=True
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # `_send` logs one line per request, with the scenario, turn and outcome

    def log_message(self, format: str, *args: Any) -> None:
        print(f"model-standin: {format % args}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="A scripted OpenAI-compatible model stand-in.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--api-key", help="require `Authorization: Bearer <key>` on /v1")
    parser.add_argument(
        "--hang-seconds",
        type=float,
        default=30.0,
        help="how long the `timeout` failure holds a request (less if the client hangs up)",
    )
    args = parser.parse_args()
    server = StandinServer((args.host, args.port), api_key=args.api_key, hang=args.hang_seconds)
    host, port = server.server_address[:2]
    serve_until_stopped(server, f"model stand-in listening on http://{host!s}:{port}/v1")


if __name__ == "__main__":
    main()
