"""`client.agent_jobs` against a gateway faked in memory: where answers go (following a job
needs the live WebSocket: it is tested against the real stack, in tests/e2e)."""

import pytest

from jobyard import ConflictError, ScriptStep
from jobyard.agent_jobs import AgentJobs, AsyncAgentJobs

pytestmark = pytest.mark.unit

PROMPT = {
    "id": "p-1",
    "question": "Go on?",
    "choices": ["yes", "no"],
    "asked_at": "2025-01-01T00:00:00Z",
}


def test_answer_replies_to_the_pending_question(gateway, jobs, api):
    gateway.views = [api.job(status="waiting_for_input", prompt=PROMPT)]
    sent = AgentJobs(jobs).answer(api.job_id, "yes")
    assert gateway.requests == [
        ("POST", f"/v1/jobs/{api.job_id}/messages", {"text": "yes", "reply_to": "p-1"})
    ]
    assert (sent.text, sent.reply_to) == ("yes", "p-1")


def test_answer_without_a_pending_question_is_refused_before_sending(gateway, jobs, api):
    with pytest.raises(ConflictError, match="not waiting"):
        AgentJobs(jobs).answer(api.job_id, "yes")
    assert gateway.requests == []


async def test_async_answer_with_a_prompt_id_sends_it_as_given(gateway, async_jobs, api):
    await AsyncAgentJobs(async_jobs).answer(api.job_id, "no", prompt_id="p-7")
    assert gateway.requests[-1][2] == {"text": "no", "reply_to": "p-7"}
    assert gateway.gets == 0


def test_start_and_list_are_agent_requests(gateway, jobs, api):
    agent_jobs = AgentJobs(jobs)
    job = agent_jobs.start("tidy", steps=[ScriptStep(title="a", script="true")], chat_id="c")
    assert job.kind == "agent"
    assert agent_jobs.list(chat_id="c")[0].id == api.job_id
    (_, _, body), _ = gateway.requests
    assert body["kind"] == "agent"
    assert body["steps"] == [{"title": "a", "script": "true"}]
