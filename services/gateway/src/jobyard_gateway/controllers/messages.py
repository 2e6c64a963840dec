"""A job's conversation: the owner's messages (answers to its prompts among them) and the
agent's."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED

from jobyard_gateway.adapters.users import User
from jobyard_gateway.controllers.jobs import command, owned_job
from jobyard_gateway.domain.messages import PostMessage, post_message
from jobyard_gateway.domain.views import MessageList, MessageView
from jobyard_messaging import OutboxRelay
from jobyard_store import JobRepository


class MessageController(Controller):
    path = "/v1/jobs/{job_id:str}/messages"
    tags = ["jobs"]

    @post("/", status_code=HTTP_201_CREATED)
    async def post_message(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        data: JSONBody[PostMessage],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
    ) -> MessageView:
        """Send the job a message; while it waits for input, the message answers its prompt
        and the job goes on. 409 once the job is over, or when `reply_to` names a prompt that
        is not pending."""
        job = await command(jobs, relay, job_id, request.user, lambda j: post_message(j, data))
        return MessageView.of(job.messages[-1])

    @get("/")
    async def list_messages(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
    ) -> MessageList:
        """The whole conversation, in order."""
        job = await owned_job(jobs, job_id, request.user)
        return MessageList(job_id=job.id, messages=[MessageView.of(m) for m in job.messages])
