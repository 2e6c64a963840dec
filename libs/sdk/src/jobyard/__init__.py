"""Jobyard's Python SDK.

from jobyard import Jobyard
client = Jobyard(api_key="...")            # or JOBYARD_API_KEY / JOBYARD_BASE_URL
job = client.jobs.run_and_wait(name="report", script="echo hi", poll_interval=2)
print(job.status, client.jobs.get_logs(job.id))

agent = client.agent_jobs.start("Count the lines of every CSV in /data and report the largest")
for snapshot in client.agent_jobs.follow(agent.id):
    print(snapshot.status, snapshot.progress)
"""

from jobyard.client import AsyncJobyard, Jobyard, create_user
from jobyard.errors import (
    AuthenticationError,
    ConflictError,
    JobyardError,
    NotFoundError,
    QuotaExceededError,
    ValidationError,
)
from jobyard.models import (
    Deleted,
    Image,
    Job,
    Logs,
    Message,
    Progress,
    Prompt,
    SshInfo,
    Step,
    TimelineStep,
    User,
)
from jobyard.steps import AskStep, InstructionStep, ScriptStep

__all__ = [
    "AskStep",
    "AsyncJobyard",
    "AuthenticationError",
    "ConflictError",
    "Deleted",
    "Image",
    "InstructionStep",
    "Job",
    "Jobyard",
    "JobyardError",
    "Logs",
    "Message",
    "NotFoundError",
    "Progress",
    "Prompt",
    "QuotaExceededError",
    "ScriptStep",
    "SshInfo",
    "Step",
    "TimelineStep",
    "User",
    "ValidationError",
    "create_user",
]
