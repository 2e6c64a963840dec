"""What the model is shown for its next decision, rebuilt from the stored job alone: the same
job gives the same conversation, however often the agent restarted."""

from __future__ import annotations

from typing import Any

from jobyard_contracts import NetworkPolicy
from jobyard_store import ChatMessage, JobDocument

SYSTEM_PROMPT = """You are the agent of a Jobyard job: you carry out the owner's instruction \
autonomously, step by step, in a Linux sandbox (image `{image}`, working directory /workspace, \
{network}). Python 3 with NumPy, SciPy, pandas and matplotlib is installed.

Work like this:
1. Make a short plan with update_plan (a to-do list; revise it when you learn something).
2. Work through it with run_command, write_file, read_file and read_output. Commands run \
non-interactively with bash; each starts in /workspace. After each one you see its exit code, \
the last lines of its output and the files it changed.
3. Tick off each plan item with mark_done as soon as it is done.
4. Ask the owner with ask_user only when a choice is genuinely theirs to make.
5. When the work is done, call finish with a summary of what you did and which files hold \
the results. Put results under /workspace.

The owner may send you messages while you work; take them into account."""


def chat_messages(job: JobDocument) -> list[dict[str, Any]]:
    """The Chat Completions `messages` for the planner's next turn."""
    network = (
        "with internet access"
        if job.network is NetworkPolicy.INTERNET
        else "without network access"
    )
    conversation: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM_PROMPT.format(image=job.image, network=network)},
        {"role": "user", "content": _instruction(job)},
    ]
    seen = 0
    turns = job.planner_state.turns if job.planner_state else []
    for turn in turns:
        conversation += _owner_messages(job.messages[seen : turn.messages_seen])
        seen = turn.messages_seen
        assistant: dict[str, Any] = {"role": "assistant", "content": turn.content or None}
        if turn.tool_calls:
            assistant["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in turn.tool_calls
            ]
        conversation.append(assistant)
        conversation += [
            {"role": "tool", "tool_call_id": call.id, "content": call.result or ""}
            for call in turn.tool_calls
        ]
    conversation += _owner_messages(job.messages[seen:])
    return conversation


def _instruction(job: JobDocument) -> str:
    text = f"Instruction:\n{job.instruction}"
    outline = job.planner_state.outline if job.planner_state else []
    if outline:
        listed = "\n".join(f"{i}. {item}" for i, item in enumerate(outline))
        text += f"\n\nThe owner outlined these steps (your first plan):\n{listed}"
    return text


def _owner_messages(messages: list[ChatMessage]) -> list[dict[str, Any]]:
    # Answers to prompts reach the model as the results of its `ask_user` calls.
    return [
        {"role": "user", "content": f"Message from the owner: {m.text}"}
        for m in messages
        if m.role == "user" and m.reply_to is None
    ]
