"""The tools an LLM planner works with: their argument models (whose JSON Schemas are what the
model is offered) and, for the ones that act in the sandbox, the bash script that does it.

A tool either acts in the job's sandbox (a step: `run_command`, `write_file`, `read_file`,
`read_output`), changes the job at once (`update_plan`, `mark_done`, `send_message`), waits for
the owner (`ask_user`) or ends the job (`finish`).
"""

from __future__ import annotations

import base64
import json
import shlex
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jobyard_contracts import SandboxExited

STEP_OUTPUT_DIR = "/tmp/jobyard-steps"
"""Where a planner step's whole output is kept in the sandbox, for `read_output`."""

MAX_READ_LINES = 400


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunCommand(ToolArgs):
    """Run a bash command in the job's sandbox (cwd /workspace) and see its exit code, the
    last lines of its output and the files it changed."""

    command: str = Field(min_length=1, description="Bash commands to run.")
    title: str = Field(default="", max_length=200, description="A short title for the timeline.")


class WriteFile(ToolArgs):
    """Create or overwrite a file in the sandbox with the given text."""

    path: str = Field(min_length=1, description="Path, relative to /workspace or absolute.")
    content: str = Field(description="The whole text of the file.")


class ReadFile(ToolArgs):
    """Read lines of a file in the sandbox."""

    path: str = Field(min_length=1)
    start_line: int = Field(default=1, ge=1)
    max_lines: int = Field(default=200, ge=1, le=MAX_READ_LINES)


class ReadOutput(ToolArgs):
    """Read lines of the whole output of an earlier step (steps are numbered from 0)."""

    step: int = Field(ge=0)
    start_line: int = Field(default=1, ge=1)
    max_lines: int = Field(default=200, ge=1, le=MAX_READ_LINES)


class AskUser(ToolArgs):
    """Ask the job's owner a question and wait for the answer (the sandbox pauses meanwhile)."""

    question: str = Field(min_length=1, max_length=4000)
    choices: list[str] = Field(default_factory=list, max_length=20)


class UpdatePlan(ToolArgs):
    """Make or revise the plan: the to-do list of what is left to do, in order. Items already
    done stay done."""

    items: list[str] = Field(min_length=1, max_length=50)


class MarkDone(ToolArgs):
    """Tick off an item of the plan (numbered from 0) as done."""

    item: int = Field(ge=0)
    note: str = Field(default="", max_length=2000)


class SendMessage(ToolArgs):
    """Tell the job's owner something (progress, an answer to their message)."""

    text: str = Field(min_length=1, max_length=8000)


class Finish(ToolArgs):
    """End the job: the work is done. The summary is shown to the owner."""

    summary: str = Field(min_length=1, max_length=8000)


TOOLS: dict[str, type[ToolArgs]] = {
    "run_command": RunCommand,
    "write_file": WriteFile,
    "read_file": ReadFile,
    "read_output": ReadOutput,
    "ask_user": AskUser,
    "update_plan": UpdatePlan,
    "mark_done": MarkDone,
    "send_message": SendMessage,
    "finish": Finish,
}

SANDBOX_TOOLS = frozenset({"run_command", "write_file", "read_file", "read_output"})


def tool_definitions() -> list[dict[str, Any]]:
    """The `tools` parameter of a Chat Completions request."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": (model.__doc__ or "").strip(),
                "parameters": model.model_json_schema(),
            },
        }
        for name, model in TOOLS.items()
    ]


class InvalidCallError(ValueError):
    """A call the planner made wrongly; the message goes back to it as the call's result."""


def parse_call(name: str, arguments: str) -> ToolArgs:
    model = TOOLS.get(name)
    if model is None:
        raise InvalidCallError(
            f"error: there is no tool {name!r}; the tools are {', '.join(TOOLS)}"
        )
    try:
        return model.model_validate(json.loads(arguments or "{}"))
    except (ValidationError, ValueError) as exc:
        raise InvalidCallError(f"error: invalid arguments for {name}: {exc}") from None


def step_title(call: ToolArgs) -> str:
    match call:
        case RunCommand(title=title, command=command):
            return title or command.splitlines()[0][:80]
        case WriteFile(path=path):
            return f"Write {path}"
        case ReadFile(path=path):
            return f"Read {path}"
        case ReadOutput(step=step):
            return f"Read the output of step {step}"
    raise AssertionError(f"not a sandbox tool: {call!r}")


def step_script(call: ToolArgs, step_index: int) -> str:
    """The bash script of a sandbox tool's step. A command's whole output is kept for
    `read_output`, and the files it changed under /workspace are listed after it."""
    match call:
        case RunCommand(command=command):
            out = f"{STEP_OUTPUT_DIR}/{step_index}.out"
            mark = f"{STEP_OUTPUT_DIR}/{step_index}.start"
            return (
                f"mkdir -p {STEP_OUTPUT_DIR} && touch {mark}\n"
                f"{{\n{command}\n}} 2> >(tee -a {out} >&2) | tee -a {out}\n"
                "code=${PIPESTATUS[0]}\n"
                f"changed=$(find /workspace -newer {mark} -type f -not -path '*/.cache/*' "
                "-not -path '*/__pycache__/*' -not -path '*/.git/*' 2>/dev/null | head -20)\n"
                '[ -n "$changed" ] && echo "[files changed]" $changed\n'
                "exit $code\n"
            )
        case WriteFile(path=path, content=content):
            encoded = base64.b64encode(content.encode()).decode()
            target = shlex.quote(path)
            return (
                f'mkdir -p -- "$(dirname -- {target})"\n'
                f"echo {encoded} | base64 -d > {target}\n"
                f'echo "wrote $(wc -c < {target}) bytes to {path}"\n'
            )
        case ReadFile(path=path, start_line=start, max_lines=count):
            return _lines(shlex.quote(path), start, count)
        case ReadOutput(step=step, start_line=start, max_lines=count):
            return _lines(f"{STEP_OUTPUT_DIR}/{step}.out", start, count)
    raise AssertionError(f"not a sandbox tool: {call!r}")


def _lines(path: str, start: int, count: int) -> str:
    end = start + count - 1
    return f"sed -n '{start},{end}p' -- {path}\n"


OBSERVED_LINES = 200
OBSERVED_CHARS = 8000
"""The planner sees more of a step's output than the timeline's tail, up to these."""


def observation(fact: SandboxExited, output_lines: Sequence[str]) -> str:
    """What the planner is told of a step it ran, given the step's last `OBSERVED_LINES`."""
    text = f"exit code {fact.exit_code}"
    if fact.message:
        text += f" ({fact.message})"
    output_tail = "\n".join(output_lines)[-OBSERVED_CHARS:]
    return f"{text}\noutput (last lines):\n{output_tail}" if output_tail else text
