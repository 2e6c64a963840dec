"""`jobyard agent ...` against a gateway faked in memory: steps in order, JSON lines, the live
view and answers read from a pipe."""

import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from jobyard import Job, cli, cli_agent
from jobyard.agent_view import render, step_of
from jobyard.cli import app

pytestmark = pytest.mark.unit

PROMPT = {
    "id": "p-1",
    "question": "Publish it?",
    "choices": ["yes", "no"],
    "asked_at": "2025-01-01T00:00:00Z",
}


@pytest.fixture
def jobyard(monkeypatch, sdk_client):
    monkeypatch.setattr(cli_agent, "client", lambda: sdk_client)
    monkeypatch.setattr(cli, "client", lambda: sdk_client)


def finished(api, status="completed"):
    return api.job(
        status=status,
        progress={"current_step": None, "completed_steps": 2, "total_steps": 2},
        plan=[api.step(0, "completed"), api.step(1, "completed")],
        summary="published",
    )


def invoke(*args, stdin=None):
    return CliRunner().invoke(app, ["agent", *args], input=stdin)


def test_start_sends_the_steps_in_the_order_given_and_detaches(jobyard, gateway):
    result = invoke(
        "start", "tidy", "--step", "a::echo a", "--step", "b::?Go on?::yes,no",
        "--step", "c::@sum up", "--chat", "chat-1", "--detach", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _, path, body = gateway.requests[0]
    assert path == "/v1/jobs"
    assert [list(s)[1] for s in body["steps"]] == ["script", "ask", "instruction"]
    assert body["chat_id"] == "chat-1"
    assert json.loads(result.stdout)["kind"] == "agent"


def test_a_malformed_step_is_a_usage_error(jobyard, gateway):
    result = invoke("start", "tidy", "--step", "no title here")
    assert result.exit_code == 2
    assert gateway.requests == []


def test_answer_resolves_a_choice_number_against_the_pending_question(jobyard, gateway, api):
    gateway.views = [api.job(status="waiting_for_input", prompt=PROMPT)]
    assert invoke("answer", api.job_id, "1").exit_code == 0
    assert gateway.requests[-1][2] == {"text": "yes", "reply_to": "p-1"}


def test_answer_without_a_question_is_a_clear_error(jobyard, gateway, api):
    result = invoke("answer", api.job_id, "1")
    assert result.exit_code == 1
    assert "not waiting for an answer" in result.stderr


def test_lists_filter_by_kind_and_chat(jobyard, gateway, api):
    assert CliRunner().invoke(app, ["list", "--kind", "agent"]).exit_code == 0
    listed = invoke("list", "--chat", "chat-1", "--json")
    assert listed.exit_code == 0
    assert [job["id"] for job in json.loads(listed.stdout)] == [api.job_id]
    assert gateway.listed[0]["kind"] == "agent"
    assert gateway.listed[1] == {"kind": "agent", "chat_id": "chat-1", "limit": "50", "offset": "0"}


def test_the_view_ticks_off_the_plan_and_shows_the_question(api):
    job = Job.model_validate(
        api.job(
            status="waiting_for_input",
            progress={"current_step": 1, "completed_steps": 1, "total_steps": 4},
            plan=[
                api.step(0, "completed", output_tail="[bold]raw[/bold]\n"),
                api.step(1, "running"),
                api.step(2, "failed", reason="timeout"),
                api.step(3, "pending"),
            ],
            prompt=PROMPT,
            messages=[
                {"id": "m", "role": "agent", "text": "halfway", "at": "2025-01-01T00:00:00Z"}
            ],
        )
    )
    console = Console(record=True, width=100)
    console.print(render(job))
    text = console.export_text()
    assert "step 2 of 4" in text
    for line in ("✓ step 0", "▶ step 1", "✗ step 2  timeout", "· step 3", "1) yes", "2) no"):
        assert line in text
    assert "[bold]raw[/bold]" in text  # output is shown as written, never as markup
    assert "agent: halfway" in text


def test_step_of_says_how_far_a_job_is(api):
    assert step_of(Job.model_validate(api.job())) == "step 1 of 2"
    assert step_of(Job.model_validate(finished(api))) == "2 of 2 steps done"
    assert step_of(Job.model_validate(api.job(progress=None))) == ""
