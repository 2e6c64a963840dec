"""Agent job requests as built without I/O, and the CLI's one-line steps."""

import pytest

from jobyard import _requests as rq
from jobyard.steps import AskStep, InstructionStep, ScriptStep, parse_step, step_body

pytestmark = pytest.mark.unit

START_DEFAULTS = dict(
    steps=None,
    chat_id=None,
    name=None,
    vcpus=1,
    memory_mb=512,
    image="base",
    network="none",
    env=None,
    timeout=None,
    session_seconds=None,
    disk_mb=None,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fetch::curl -s x | jq .a::b", ScriptStep(title="fetch", script="curl -s x | jq .a::b")),
        ("clean::@drop empty rows", InstructionStep(title="clean", instruction="drop empty rows")),
        ("ok?::?Publish it?", AskStep(title="ok?", ask="Publish it?")),
        (
            "publish::?Publish it?:: yes , no,",
            AskStep(title="publish", ask="Publish it?", choices=["yes", "no"]),
        ),
        (" spaced title ::  echo hi", ScriptStep(title="spaced title", script="  echo hi")),
    ],
)
def test_a_step_is_a_script_an_instruction_or_a_question(text, expected):
    assert parse_step(text) == expected


@pytest.mark.parametrize(
    "text", ["no separator", "::echo hi", "title::", "title::   ", "t::@", "t::? ::yes,no"]
)
def test_a_step_without_title_or_body_is_refused(text):
    with pytest.raises(ValueError, match=r"::|nothing after"):
        parse_step(text)


def test_a_step_becomes_the_json_the_api_expects():
    assert step_body(AskStep(title="q", ask="Sure?")) == {"title": "q", "ask": "Sure?"}
    assert step_body(AskStep(title="q", ask="Sure?", choices=["y"])) == {
        "title": "q",
        "ask": "Sure?",
        "choices": ["y"],
    }
    assert step_body({"title": "raw", "script": "true"}) == {"title": "raw", "script": "true"}


def test_starting_an_agent_job_sends_kind_instruction_and_only_the_options_given():
    call = rq.start_agent("tidy the data", **START_DEFAULTS)
    assert (call.method, call.path) == ("POST", "/v1/jobs")
    assert call.json == {
        "kind": "agent",
        "instruction": "tidy the data",
        "vcpus": 1,
        "memory_mb": 512,
        "image": "base",
        "network": "none",
        "env": {},
    }


def test_steps_keep_their_order_and_options_are_passed_on():
    steps = [parse_step("a::echo a"), parse_step("b::?Go on?::yes,no"), parse_step("c::@sum up")]
    options = START_DEFAULTS | dict(
        steps=steps, chat_id="chat-7", name="tidy", timeout=60, session_seconds=600, disk_mb=256
    )
    body = rq.start_agent("tidy", **options).json
    assert body is not None
    assert body["steps"] == [
        {"title": "a", "script": "echo a"},
        {"title": "b", "ask": "Go on?", "choices": ["yes", "no"]},
        {"title": "c", "instruction": "sum up"},
    ]
    assert (body["chat_id"], body["name"], body["timeout"]) == ("chat-7", "tidy", 60)
    assert (body["session_seconds"], body["disk_mb"]) == (600, 256)


def test_an_empty_step_list_is_left_to_the_planner():
    body = rq.start_agent("tidy", **START_DEFAULTS | {"steps": []}).json
    assert body is not None
    assert "steps" not in body


def test_messages_answer_a_prompt_only_when_named():
    assert rq.post_message("j", "hi").json == {"text": "hi"}
    call = rq.post_message("j", "yes", reply_to="p-1")
    assert (call.method, call.path, call.json) == (
        "POST",
        "/v1/jobs/j/messages",
        {"text": "yes", "reply_to": "p-1"},
    )
    assert (rq.messages("j").method, rq.messages("j").path) == ("GET", "/v1/jobs/j/messages")


def test_listing_filters_by_kind_and_chat_only_when_asked():
    assert rq.listing(None, None, 50, 0).params == {"limit": 50, "offset": 0}
    params = rq.listing("running", None, 10, 0, kind="agent", chat_id="c").params
    assert params == {
        "limit": 10,
        "offset": 0,
        "status": "running",
        "kind": "agent",
        "chat_id": "c",
    }
