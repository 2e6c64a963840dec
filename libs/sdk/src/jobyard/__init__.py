"""Jobyard's Python SDK.

from jobyard import Jobyard
client = Jobyard(api_key="...")            # or JOBYARD_API_KEY / JOBYARD_BASE_URL
job = client.jobs.run_and_wait(name="report", script="echo hi", poll_interval=2)
print(job.status, client.jobs.get_logs(job.id))
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
from jobyard.models import Deleted, Image, Job, Logs, SshInfo, User

__all__ = [
    "AsyncJobyard",
    "AuthenticationError",
    "ConflictError",
    "Deleted",
    "Image",
    "Job",
    "Jobyard",
    "JobyardError",
    "Logs",
    "NotFoundError",
    "QuotaExceededError",
    "SshInfo",
    "User",
    "ValidationError",
    "create_user",
]
