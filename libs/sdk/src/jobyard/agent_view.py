"""The live view of an agent job (`jobyard agent follow`), drawn from one snapshot. No I/O.

Everything the job or its owner wrote is shown as plain `Text`, never read as rich markup.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from jobyard._agent import latest_output, waiting_on
from jobyard._cli import status_text
from jobyard.models import Job, Message, Prompt, Step

MARKS = {
    "completed": ("✓", "green"),
    "dispatched": ("▶", "cyan"),
    "running": ("▶", "cyan"),
    "failed": ("✗", "red"),
    "pending": ("·", "dim"),
}
OUTPUT_LINES = 8
MESSAGES = 5


def render(job: Job) -> RenderableType:
    parts: list[RenderableType] = [header(job)]
    if job.status_detail:
        parts.append(Text(f"  {job.status_detail}", style="dim"))
    if job.instruction:
        parts.append(Text(job.instruction, style="italic"))
    if job.plan:
        parts += [Text("plan", style="bold"), *(plan_line(item) for item in job.plan)]
    if output := latest_output(job):
        lines = output.rstrip("\n").splitlines()[-OUTPUT_LINES:]
        shown = "\n".join(f"  {line}" for line in lines)
        parts += [Text("output", style="bold"), Text(shown, style="dim")]
    if job.messages:
        parts += [Text("messages", style="bold"), *map(message_line, job.messages[-MESSAGES:])]
    if (prompt := waiting_on(job)) is not None:
        parts.append(question(prompt))
    if job.summary:
        parts += [Text("summary", style="bold"), Text(job.summary)]
    elif job.finished and job.status != "completed" and (job.reason or job.message):
        parts.append(Text(" ".join(filter(None, [job.reason, job.message])), style="red"))
    return Group(*parts)


def header(job: Job) -> Text:
    text = Text.assemble((job.id, "bold"), "  ", job.title or job.name, "  ", status_text(job))
    if where := step_of(job):
        text.append(f"  {where}")
    return text


def step_of(job: Job) -> str:
    """`step 2 of 5` while a step is under way, else how many steps are done."""
    progress = job.progress
    if progress is None or not progress.total_steps:
        return ""
    if progress.current_step is not None:
        return f"step {progress.current_step + 1} of {progress.total_steps}"
    return f"{progress.completed_steps} of {progress.total_steps} steps done"


def plan_line(item: Step) -> Text:
    mark, style = MARKS.get(item.status, ("?", "yellow"))
    line = Text.assemble("  ", (mark, style), " ", item.title)
    if item.duration_seconds is not None and item.finished_at is not None:
        line.append(f"  {item.duration_seconds:.1f}s", style="dim")
    if item.status == "failed" and (item.reason or item.message):
        line.append("  " + " ".join(filter(None, [item.reason, item.message])), style="red")
    return line


def message_line(message: Message) -> Text:
    label = ("agent: ", "bold cyan") if message.role == "agent" else ("you: ", "bold")
    return Text.assemble("  ", label, message.text)


def question(prompt: Prompt) -> Text:
    text = Text.assemble(("? ", "bold magenta"), (prompt.question, "bold"))
    for number, choice in enumerate(prompt.choices, 1):
        text.append(f"\n  {number}) {choice}")
    return text
