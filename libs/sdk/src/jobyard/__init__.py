"""Jobyard's Python SDK.

from jobyard import Jobyard
client = Jobyard(api_key="...")            # or JOBYARD_API_KEY / JOBYARD_BASE_URL
job = client.jobs.run_and_wait(name="report", script="echo hi", poll_interval=2)
print(job.status, client.jobs.get_logs(job.id))

agent = client.agent_jobs.start("Count the lines of every CSV in /data and report the largest")
for snapshot in client.agent_jobs.follow(agent.id):
    print(snapshot.status, snapshot.progress)

sales = client.files.upload("sales.csv")     # jobs given its id find it in /workspace/inputs/
job = client.jobs.create("count", "wc -l inputs/sales.csv > count.txt", inputs=[sales.id])
client.jobs.wait(job.id, poll_interval=2)
for file in client.files.list(job_id=job.id, kind="output"):
    client.files.download(file.id)           # checked against its SHA-256
"""

from jobyard.client import AsyncJobyard, Jobyard, create_user
from jobyard.errors import (
    AuthenticationError,
    ChecksumMismatchError,
    ConflictError,
    JobyardError,
    NotFoundError,
    QuotaExceededError,
    StorageError,
    ValidationError,
)
from jobyard.models import (
    Deleted,
    Delivery,
    DeliveryAttempt,
    File,
    FileTotals,
    ForkOrigin,
    GeneratedBy,
    Image,
    Job,
    JobInput,
    Logs,
    Message,
    Notification,
    Progress,
    Prompt,
    Replay,
    SshInfo,
    Step,
    StepFile,
    TimelineStep,
    User,
    Webhook,
)
from jobyard.steps import AskStep, InstructionStep, ScriptStep

__all__ = [
    "AskStep",
    "AsyncJobyard",
    "AuthenticationError",
    "ChecksumMismatchError",
    "ConflictError",
    "Deleted",
    "Delivery",
    "DeliveryAttempt",
    "File",
    "FileTotals",
    "ForkOrigin",
    "GeneratedBy",
    "Image",
    "InstructionStep",
    "Job",
    "JobInput",
    "Jobyard",
    "JobyardError",
    "Logs",
    "Message",
    "NotFoundError",
    "Notification",
    "Progress",
    "Prompt",
    "QuotaExceededError",
    "Replay",
    "ScriptStep",
    "SshInfo",
    "Step",
    "StepFile",
    "StorageError",
    "TimelineStep",
    "User",
    "ValidationError",
    "Webhook",
    "create_user",
]
